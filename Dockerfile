# The manager image. Nothing is pulled: hack/docker-build.sh builds the
# binary on the host (CGO_ENABLED=0, -trimpath, version and commit through
# -ldflags) and stages it with the host's CA certificates and a passwd/group
# naming UID/GID 65532 into a small build context, so the image is FROM
# scratch and holds exactly four files. Build it with `make docker-build`.
FROM scratch
ARG VERSION=0.0.0-dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="maas-gateway manager" \
      org.opencontainers.image.description="Kubernetes operator: a private cloud gateway for Canonical MAAS" \
      org.opencontainers.image.source="https://github.com/maas-gateway/maas-gateway" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
COPY passwd group /etc/
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]
