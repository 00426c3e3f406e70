FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
# the service bundle and the dashboards (dist/web), as `npm start` builds them
RUN node scripts/build.mjs
ENV DATA_DIR=/data
# libuv's pool, which the stores' writes share with DNS lookups, file I/O and login hashing (see README)
ENV UV_THREADPOOL_SIZE=16
VOLUME ["/data"]
EXPOSE 1883 8083 3000 8600
CMD ["node", "--enable-source-maps", "dist/main.mjs"]
