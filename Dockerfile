# syntax=docker/dockerfile:1
#
# The wasi-dapr app image: the `wasi-dapr` host plus the pub/sub example's modules,
# precompiled by `wasi-dapr compile` so a container serves its first request without
# compiling wasm (the .cwasm loads only in this image's wasi-dapr build).
#
#   docker build -t wasi-dapr-example:0.1.0 .
#   docker run --rm -p 8080:8080 wasi-dapr-example:0.1.0
#
# By default the container serves the order subscriber (examples/pubsub-rust) on
# 0.0.0.0:8080, the port a pod's `dapr.io/app-port` points at; examples/k8s/ runs it
# beside daprd. The same image runs the publisher with `wasi-dapr run` (see
# examples/k8s/50-order-publisher.yaml).

# ---- build: the host (native, release), the example modules (wasm32-wasip1), and
# their .cwasm made by that host ----
# 1.95 is the workspace's rust-version (Cargo.toml).
FROM rust:1.95-slim-bookworm AS build
RUN rustup target add wasm32-wasip1
WORKDIR /src
COPY . .
# The caches keep crates and build outputs between image builds; whatever the final
# stage needs is copied out to /out inside the same step. The shipped binary leaves out
# the line tables (about 160 MB with them, 30 MB without). The host is built with the
# `dist` profile (release with cross-crate optimisation, Cargo.toml), the guests with
# `release`.
# The .cwasm holds native code for the build machine's CPU: build the image on (or for)
# the architecture it runs on; a node whose CPU lacks a feature the code uses refuses the
# .cwasm at start with wasmtime's reason.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    CARGO_PROFILE_DIST_STRIP=debuginfo \
      cargo build --profile dist --locked -p wasi-dapr --bin wasi-dapr \
 && cargo build --release --locked --target wasm32-wasip1 -p pubsub-rust \
 && mkdir -p /out \
 && cp target/dist/wasi-dapr /out/wasi-dapr \
 && for m in pubsub-rust-subscriber pubsub-rust-publisher; do \
      /out/wasi-dapr compile target/wasm32-wasip1/release/$m.wasm -o /out/$m.cwasm || exit 1; \
    done

# ---- runtime: Debian slim (the glibc the build stage linked against), non-root ----
FROM debian:bookworm-slim
# CA certificates for https:// allowlist entries (the host verifies against the system's
# roots). A fixed numeric user, so Kubernetes can verify `runAsNonRoot` from the image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 wasi-dapr \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/wasi-dapr --create-home \
      --shell /usr/sbin/nologin wasi-dapr
COPY --from=build /out/wasi-dapr /usr/local/bin/wasi-dapr
COPY --from=build /out/pubsub-rust-subscriber.cwasm /app/pubsub-rust-subscriber.cwasm
COPY --from=build /out/pubsub-rust-publisher.cwasm /app/pubsub-rust-publisher.cwasm
# The default outbound policy: the local Dapr sidecar (127.0.0.1:3500, localhost:3500).
COPY allowlist.toml /app/allowlist.toml
WORKDIR /app
USER 10001:10001
EXPOSE 8080
# daprd probes /healthz (dapr.io/app-health-check-path); the kubelet may use /readyz.
ENTRYPOINT ["wasi-dapr", "serve", "--listen", "0.0.0.0:8080"]
CMD ["--allowlist", "/app/allowlist.toml", "/app/pubsub-rust-subscriber.cwasm"]
