# Causeway server image (used by docker-compose.yml).
#   docker build -t causeway .    docker run -p 8080:8080 causeway

# --- build: the release binary -------------------------------------------------------
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p causeway \
 && mkdir -p templates

# --- run: a slim Debian of the same release (same glibc) with only the binary ---------
FROM debian:bookworm-slim
# CA certificates for the optional LLM and Slack HTTPS calls.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /app causeway \
 && mkdir -p /data \
 && chown causeway /data
WORKDIR /app
COPY --from=build /src/target/release/causeway /usr/local/bin/causeway
# Templates ship beside the binary in case the server reads them at run time.
COPY --from=build /src/templates /app/templates
USER causeway
ENV CAUSEWAY_DATA_DIR=/data
EXPOSE 8080
CMD ["causeway", "serve", "--addr", "0.0.0.0:8080"]
