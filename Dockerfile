# The image a `dpsim sweep SPEC.yaml --emit-job` Job runs: the dpsim CLI at /app/dist/cli/main.js.
#   docker build -t dpsim:latest .      (then push it where the cluster pulls from)
# Build stage: full install (TypeScript is a dev dependency), compile src/ to dist/.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
# --ignore-scripts: `prepare` would compile before the sources are copied in.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY src ./src
RUN npx tsc -p tsconfig.build.json

# Run stage: production dependencies and the compiled CLI only.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["--help"]
