# Cordon's container image (docs/deploy.md). Two stages:
#   build    Debian with Node 20 and the C/BPF toolchain: compiles the TypeScript and the native
#            kernel parts (native/build: cordon-launch, egress.bpf.o, cordon-egress), then drops
#            the development dependencies.
#   runtime  Debian slim with Node 20, the production dependencies, the build output and libbpf,
#            running as an unprivileged user. `cordon serve` reads /etc/cordon/cordon.yaml.
# The same Debian release in both stages, so better-sqlite3's compiled addon and the launcher
# (linked against libbpf) run in the runtime stage unchanged.

ARG NODE_IMAGE=node:20-bookworm
ARG NODE_SLIM_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
# gcc/libc6-dev/linux-libc-dev: the launcher against the kernel headers (Landlock, seccomp);
# clang + libbpf-dev: the cgroup egress programs. The same list .ci/run installs.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc libc6-dev linux-libc-dev clang libbpf-dev make python3 g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
# Install scripts stay off; the one dependency whose script Cordon needs at run time
# (better-sqlite3, approved in package.json allowScripts) is built on its own.
RUN npm ci --ignore-scripts --no-fund --no-audit \
 && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build-native.mjs scripts/build-native.mjs
# Every native source and header (native/build is in .dockerignore: built here, not copied).
COPY native native
COPY src src
COPY examples examples
# The package's own build (tsc + native); CORDON_REQUIRE_NATIVE makes a launcher or BPF object
# that does not compile a failed image build instead of an image without the kernel layer.
RUN CORDON_REQUIRE_NATIVE=1 npm run build \
 && npm prune --omit=dev --ignore-scripts --no-fund --no-audit \
 && find dist -name '*.test.js' -delete -o -name '*.test.d.ts' -delete \
 && rm -rf dist/bench dist/testing dist/.tsbuildinfo

FROM ${NODE_SLIM_IMAGE} AS runtime
# libbpf1: the launcher is linked against it (cgroup eBPF egress). Nothing else is added.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libbpf1 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 cordon \
 && useradd --system --uid 10001 --gid cordon --home-dir /var/lib/cordon --shell /usr/sbin/nologin cordon \
 && mkdir -p /var/lib/cordon /etc/cordon \
 && chown cordon:cordon /var/lib/cordon
WORKDIR /app
# Owned by root and read-only to the service user: the code cannot be rewritten by the process.
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/native/build ./native/build
COPY --from=build /src/examples ./examples
COPY deploy/docker/cordon.yaml /etc/cordon/cordon.yaml
COPY examples/policies /etc/cordon/policies
RUN ln -s /app/dist/cli/main.js /usr/local/bin/cordon
ENV NODE_ENV=production \
    CORDON_CACHE_DIR=/var/lib/cordon/cache
USER 10001:10001
VOLUME ["/var/lib/cordon"]
EXPOSE 7070
# /healthz answers on every listener; fetch is built into Node 20, so no curl in the image.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.CORDON_HEALTHZ_URL || 'http://127.0.0.1:7070/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["serve", "--config", "/etc/cordon/cordon.yaml"]
