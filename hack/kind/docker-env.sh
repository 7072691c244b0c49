# shellcheck shell=bash
# Sourced with the node image as $1: puts hack/kind/docker first on PATH when
# this Docker engine refuses `docker run --privileged` (see the wrapper), and
# leaves PATH alone where it works, so kind runs untouched there.
# KIND_DOCKER_WRAPPER=1 or 0 forces the choice.
case ${KIND_DOCKER_WRAPPER:-probe} in
1) use_wrapper=1 ;;
0) use_wrapper=0 ;;
*)
	if docker run --rm --privileged --entrypoint /bin/true "$1" >/dev/null 2>&1; then
		use_wrapper=0
	else
		use_wrapper=1
	fi
	;;
esac
if [ "$use_wrapper" = 1 ]; then
	log "docker run --privileged is refused here: kind runs through hack/kind/docker/docker"
	PATH="$KIND_DIR/docker:$PATH"
	export PATH
fi
