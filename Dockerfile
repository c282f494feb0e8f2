# otelcol-airi image, built like the opentelemetry-collector-releases images: a build stage runs
# ocb (pinned in go.mod), and the static binary goes into scratch with CA certificates, running
# as an unprivileged user. Build: `make docker` (needs a Docker engine).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go tool builder --config builder-config.yaml \
 && mkdir -p /out/etc/otelcol-airi /out/var/lib/otelcol-airi \
 && cp _build/otelcol-airi /out/otelcol-airi \
 && cp config/local.yaml /out/etc/otelcol-airi/config.yaml

FROM alpine:3.22 AS certs
RUN apk --no-cache add ca-certificates

FROM scratch
ARG USER_UID=10001
ARG USER_GID=10001
COPY --from=certs /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build --chmod=755 /out/otelcol-airi /otelcol-airi
COPY --from=build /out/etc/otelcol-airi/config.yaml /etc/otelcol-airi/config.yaml
COPY --from=build --chown=${USER_UID}:${USER_GID} /out/var/lib/otelcol-airi /var/lib/otelcol-airi
USER ${USER_UID}:${USER_GID}
# In a container the defaults must listen beyond loopback; override per deployment.
ENV AIRI_OTLP_GRPC_ENDPOINT=0.0.0.0:4317 \
    AIRI_OTLP_HTTP_ENDPOINT=0.0.0.0:4318 \
    AIRI_PROMETHEUS_ENDPOINT=0.0.0.0:8889 \
    AIRI_HEALTH_ENDPOINT=0.0.0.0:13133 \
    AIRI_TELEMETRY_HOST=0.0.0.0 \
    AIRI_DATA_DIR=/var/lib/otelcol-airi \
    AIRI_STORAGE_DIR=/var/lib/otelcol-airi
EXPOSE 4317 4318 8888 8889 13133
ENTRYPOINT ["/otelcol-airi"]
CMD ["--config", "/etc/otelcol-airi/config.yaml"]
