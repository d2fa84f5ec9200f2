# berth in a container: any berth command; `serve` answers health checks on :8080.
#
#   docker build -t berth .
#   docker run -p 8080:8080 -e BERTH_ADMIN_TOKEN=$(openssl rand -hex 32) \
#     -e BERTH_HUB_URL=https://hub.example:8443 -e BERTH_TOKEN=berth_… berth serve churn@production
#   docker run -v "$PWD:/work" -w /work berth validate churn@3 --data test.csv --gate gates/quality.toml
#
# Two stages: the release build, then a small Debian runtime with the binary,
# CA certificates (for https hubs and buckets) and curl (for the health check),
# run as an unprivileged user. `serve` reads its admin token from
# BERTH_ADMIN_TOKEN (required: it listens beyond loopback). The health check
# asks /readyz, which answers 200 only while a verified model is being served.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p berth-cli && strip target/release/berth

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --create-home --home-dir /home/berth berth
COPY --from=build /src/target/release/berth /usr/local/bin/berth
USER berth
WORKDIR /home/berth
ENV BERTH_SERVE_ADDR=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/readyz >/dev/null || exit 1
ENTRYPOINT ["berth"]
CMD ["--help"]
