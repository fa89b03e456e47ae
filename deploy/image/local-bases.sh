#!/usr/bin/env bash
# Makes the two base images deploy/Dockerfile builds from, out of Debian's own packages, for
# machines that cannot pull from Docker Hub:
#
#   localhost/debian:bookworm-slim  stands in for debian:bookworm-slim (the runtime stage):
#                                   `mmdebstrap --variant=minbase`, imported with podman
#   localhost/plyr-builder          stands in for rust:<version>-bookworm (the builder stage):
#                                   that base + gcc, libc6-dev, make, pkg-config, and the Rust
#                                   toolchain rust-toolchain.toml pins, installed by rustup as the
#                                   official image does (same RUSTUP_HOME, CARGO_HOME and PATH);
#                                   with --host-toolchain, or when static.rust-lang.org does not
#                                   answer, this machine's installed toolchain is copied instead
#
# Then, from the repository root:
#
#   podman build --format docker --build-arg BUILDER_IMAGE=localhost/plyr-builder \
#       --build-arg RUNTIME_IMAGE=localhost/debian:bookworm-slim -f deploy/Dockerfile -t plyr .
#
# RUNTIME_TAG and BUILDER_TAG name the two images otherwise.
#
# Needs root (or podman's rootless setup), podman and mmdebstrap (`apt-get install podman
# mmdebstrap`). DEBIAN_MIRROR and DEBIAN_SECURITY_MIRROR pick the mirrors (Debian's CDN by
# default); HTTP_PROXY/HTTPS_PROXY, when set, are passed into the builder's build. The builder
# also trusts the certificate authorities this machine adds to its own store
# (/usr/local/share/ca-certificates/*.crt, or EXTRA_CA_DIR), so rustup and cargo get through a
# TLS-inspecting proxy as the host does; the runtime base is left as Debian makes it.
#
# On a VM with hybrid cgroups (v1 and v2) and without CAP_SYS_RESOURCE, Debian's podman 4.3 needs
# runc (crun refuses hybrid cgroups: `apt-get install runc iptables`) and container rlimits the VM
# allows, in /etc/containers/containers.conf:
#
#   [containers]
#   default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
#   [engine]
#   runtime = "runc"
set -euo pipefail
cd "$(dirname "$0")/../.."

host_toolchain=false
for arg in "$@"; do
    case "$arg" in
        --host-toolchain) host_toolchain=true ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $arg (see --help)" >&2; exit 2 ;;
    esac
done

mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
runtime=${RUNTIME_TAG:-localhost/debian:bookworm-slim}
builder=${BUILDER_TAG:-localhost/plyr-builder}
toolchain=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
components=$(sed -n 's/^components *= *\[\(.*\)\]/\1/p' rust-toolchain.toml | tr -d '" ' | tr , ' ')
[[ -n "$toolchain" ]] || { echo "no channel in rust-toolchain.toml" >&2; exit 1; }

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT

# Slim like the official image: no documentation, man pages or locales; empty apt lists, and apt
# set up as there to keep no package caches and fetch no translations.
mkdir "$context/apt"
cat >"$context/apt/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
echo 'Acquire::Languages "none";' >"$context/apt/docker-no-languages"
echo "== $runtime (mmdebstrap minbase bookworm from $mirror)"
mmdebstrap --variant=minbase --format=tar \
    --customize-hook="copy-in $context/apt/docker-clean $context/apt/docker-no-languages /etc/apt/apt.conf.d" \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    bookworm - \
    "deb $mirror bookworm main" \
    "deb $mirror bookworm-updates main" \
    "deb $security bookworm-security main" |
    podman import --change 'CMD ["bash"]' - "$runtime"

proxy_args=()
for var in HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy; do
    [[ -n "${!var:-}" ]] && proxy_args+=(--build-arg "$var=${!var}")
done

if ! $host_toolchain && ! curl -fsS -m 20 -o /dev/null https://static.rust-lang.org/rustup/release-stable.toml; then
    echo "static.rust-lang.org does not answer: copying this machine's toolchain instead"
    host_toolchain=true
fi

mkdir "$context/ca"
cp "${EXTRA_CA_DIR:-/usr/local/share/ca-certificates}"/*.crt "$context/ca/" 2>/dev/null || true

# What both ways share: the official image's layout and the C toolchain the -sys crates build with.
cat >"$context/Containerfile" <<EOF
FROM $runtime
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
        ca-certificates curl gcc libc6-dev make pkg-config \\
 && rm -rf /var/lib/apt/lists/*
COPY ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates
EOF

if $host_toolchain; then
    echo "== $builder (bookworm + this machine's toolchain $toolchain)"
    installed=$(rustup toolchain list | awk -v t="$toolchain" 'index($1, t) == 1 { print $1; exit }')
    [[ -n "$installed" ]] || { echo "toolchain $toolchain is not installed here" >&2; exit 1; }
    source_dir=$(readlink -f "$(dirname "$(rustup which --toolchain "$installed" rustc)")/..")
    mkdir -p "$context/toolchain"
    cp -a "$source_dir"/. "$context/toolchain/"
    triple=${installed#"$toolchain"-}
    # The toolchain's own cargo and rustc stand in for rustup's proxies: rust-toolchain.toml is
    # then moot, as this is the toolchain it names.
    cat >>"$context/Containerfile" <<EOF
COPY toolchain /usr/local/rustup/toolchains/$toolchain-$triple
RUN mkdir -p /usr/local/cargo/bin \\
 && for tool in cargo rustc rustdoc; do ln -s /usr/local/rustup/toolchains/$toolchain-$triple/bin/\$tool /usr/local/cargo/bin/\$tool; done \\
 && cargo --version && rustc --version
EOF
else
    echo "== $builder (bookworm + rustup's $toolchain with $components)"
    cat >>"$context/Containerfile" <<EOF
RUN arch=\$(uname -m)-unknown-linux-gnu \\
 && url=https://static.rust-lang.org/rustup/dist/\$arch/rustup-init \\
 && curl -fsSL -o /tmp/rustup-init "\$url" \\
 && echo "\$(curl -fsSL "\$url.sha256" | cut -d' ' -f1) */tmp/rustup-init" | sha256sum -c - \\
 && chmod +x /tmp/rustup-init \\
 && /tmp/rustup-init -y --no-modify-path --profile minimal --default-toolchain $toolchain \\
        $(for c in $components; do printf -- '--component %s ' "$c"; done)\\
 && rm /tmp/rustup-init \\
 && chmod -R a+w /usr/local/rustup /usr/local/cargo \\
 && rustup --version && cargo --version && rustc --version
EOF
fi

podman build "${proxy_args[@]}" -t "$builder" "$context"
podman images --filter reference="$runtime" --filter reference="$builder"
