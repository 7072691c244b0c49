# The MAAS simulator image, for the kind e2e suite and demos. Built like the
# manager image (see ../../Dockerfile and hack/docker-build.sh): a host-built
# static binary FROM scratch, UID/GID 65532, the host's CA certificates, and
# the envtest build of etcd and kube-apiserver for -control-planes.
FROM scratch
ARG VERSION=0.0.0-dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="maas-gateway maas-sim" \
      org.opencontainers.image.description="A simulated MAAS 2.0 API for tests and demos" \
      org.opencontainers.image.source="https://github.com/maas-gateway/maas-gateway" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
COPY passwd group /etc/
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY maas-sim /maas-sim
COPY etcd kube-apiserver /usr/local/kubebuilder/bin/
USER 65532:65532
# In a container the simulator must listen beyond loopback to be reachable;
# its /sim/ admin API then answers only with an admin's key (add an
# -admin-key of your own: the built-in one draws a warning).
EXPOSE 5240
ENTRYPOINT ["/maas-sim", "-listen=:5240"]
