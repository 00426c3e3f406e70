FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
ENV DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 1883 8083 3000
CMD ["npx", "tsx", "services/main.ts"]
