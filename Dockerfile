FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
# the service bundle and the dashboards (dist/web), as `npm start` builds them
RUN node scripts/build.mjs
ENV DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 1883 8083 3000 8600
CMD ["node", "--enable-source-maps", "dist/main.mjs"]
