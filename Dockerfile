# kratos-gateway container image.
#
#   docker build -t kratos-gateway:0.1.0 .
#   docker run --rm -p 4455:4455 \
#     -e KRATOS_GATEWAY_KRATOS__PUBLIC_URL=http://kratos:4433 \
#     -e KRATOS_GATEWAY_ROUTES__0__UPSTREAM=http://app:8080 \
#     kratos-gateway:0.1.0
#
# Two stages: `build` compiles TypeScript, then drops the dev dependencies; `runtime`
# carries only dist/, the production node_modules, package.json and config/. Neither needs
# a compiler: the native modules (better-sqlite3, @node-rs/argon2) come from npm as
# prebuilt Node-API binaries. The image runs as uid/gid 10001 and writes nothing outside
# /var/lib/kratos-gateway, so it works with a read-only root filesystem. That directory
# is only used by the embedded identity server (embedded_kratos.enabled), which the
# default production configuration leaves off.
#
# Node 26 is the active LTS the image ships; the test suites also run on Node 22 and 24
# (package.json engines.node is the supported range).

FROM node:26-bookworm-slim AS build

WORKDIR /app

# Dependencies first, so this layer is reused while only the sources change.
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund

COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
  && npm prune --omit=dev --no-audit --no-fund


FROM node:26-bookworm-slim AS runtime

ENV NODE_ENV=production \
    KRATOS_GATEWAY_PROXY__LISTEN__HOST=0.0.0.0 \
    KRATOS_GATEWAY_PROXY__LISTEN__PORT=4455 \
    KRATOS_GATEWAY_ADMIN__LISTEN__HOST=0.0.0.0 \
    KRATOS_GATEWAY_ADMIN__LISTEN__PORT=4456

# A fixed numeric uid/gid so Kubernetes' runAsNonRoot can verify it. The application
# files stay owned by root: the process can read them but not change them.
# /app/data (the quickstart's `sqlite://./data/...` location) points at the only
# writable directory.
RUN groupadd --system --gid 10001 kratos-gateway \
  && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin kratos-gateway \
  && mkdir -p /var/lib/kratos-gateway /app \
  && chown 10001:10001 /var/lib/kratos-gateway \
  && ln -s /var/lib/kratos-gateway /app/data

WORKDIR /app

COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY config ./config

USER 10001:10001

EXPOSE 4455 4456

# No curl in the image: Node's own fetch asks the admin listener whether the process is alive.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.KRATOS_GATEWAY_ADMIN__LISTEN__PORT||'4456')+'/health/alive',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# node runs as PID 1 without an init process. That is safe here: dist/main.js installs
# SIGTERM and SIGINT handlers (PID 1 gets no default signal handling), turns readiness
# false, drains in-flight requests for proxy.shutdown_grace_ms and exits 0. The gateway
# spawns no child processes, so there are no zombies to reap.
STOPSIGNAL SIGTERM

ENTRYPOINT ["node", "dist/main.js"]
CMD ["--config", "config/production.yaml"]
