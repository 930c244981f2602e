#!/bin/sh
# Installs mfa-session @VERSION@ from the release's archives, checked against
# the release's SHA256SUMS first (usage below, or --help).
set -eu

version=@VERSION@
base=${MFA_SESSION_DOWNLOAD_URL:-@RELEASE_URL@}
base=${base%/}
bin_dir=${MFA_SESSION_INSTALL_DIR:-}

usage() {
  cat <<EOF
Installs mfa-session $version for this machine (Linux or macOS, x86_64 or
aarch64) from the release's archives, after checking the archive's SHA-256
against the release's SHA256SUMS: on a mismatch nothing is installed.

  curl -fsSL @RELEASE_URL@/install.sh | sh
  curl -fsSL @RELEASE_URL@/install.sh | sh -s -- --bin-dir /usr/local/bin

Options:
  --bin-dir DIR   install the binary into DIR [default: ~/.local/bin]; the
                  man page goes into DIR/../share/man/man1 when DIR ends in /bin
  --help          this text
Environment:
  MFA_SESSION_DOWNLOAD_URL  where the archives and SHA256SUMS are
                            [default: @RELEASE_URL@]
  MFA_SESSION_INSTALL_DIR   as --bin-dir
EOF
}
say() { printf 'install.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

while [ $# -gt 0 ]; do
  case $1 in
    --bin-dir)
      [ $# -ge 2 ] || die "--bin-dir needs a folder"
      bin_dir=$2
      shift 2
      ;;
    --bin-dir=*) bin_dir=${1#--bin-dir=}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument: $1 (--bin-dir DIR is the one option)" ;;
  esac
done
if [ -z "$bin_dir" ]; then
  [ -n "${HOME:-}" ] || die "HOME is not set: pass --bin-dir DIR"
  bin_dir=$HOME/.local/bin
fi

case $(uname -s) in
  Linux) os=unknown-linux-musl ;;
  Darwin) os=apple-darwin ;;
  *) die "no build for $(uname -s); build it with cargo: cargo install --locked mfa-session" ;;
esac
case $(uname -m) in
  x86_64 | amd64) arch=x86_64 ;;
  aarch64 | arm64) arch=aarch64 ;;
  *) die "no build for $(uname -m); build it with cargo: cargo install --locked mfa-session" ;;
esac
name=mfa-session-$version-$arch-$os
archive=$name.tar.gz

if command -v curl >/dev/null 2>&1; then
  fetch() { curl -fsSL --retry 2 -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
  fetch() { wget -q -O "$2" "$1"; }
else
  die "neither curl nor wget is installed"
fi
if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum "$1" | cut -d ' ' -f 1; }
elif command -v shasum >/dev/null 2>&1; then
  sha256() { shasum -a 256 "$1" | cut -d ' ' -f 1; }
elif command -v openssl >/dev/null 2>&1; then
  sha256() { openssl dgst -sha256 -r "$1" | cut -d ' ' -f 1; }
else
  die "no SHA-256 tool (sha256sum, shasum or openssl) to check the download with"
fi

tmp=$(mktemp -d 2>/dev/null || mktemp -d -t mfa-session)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "downloading $base/$archive"
fetch "$base/SHA256SUMS" "$tmp/SHA256SUMS" || die "cannot download $base/SHA256SUMS"
fetch "$base/$archive" "$tmp/$archive" || die "cannot download $base/$archive"

expected=$(awk -v f="$archive" '$2 == f || $2 == "*" f { print $1; exit }' "$tmp/SHA256SUMS")
[ -n "$expected" ] || die "SHA256SUMS has no line for $archive: nothing was installed"
actual=$(sha256 "$tmp/$archive")
if [ "$actual" != "$expected" ]; then
  die "checksum mismatch for $archive: SHA256SUMS says $expected, the download is $actual; nothing was installed"
fi
say "checksum OK: $actual"

mkdir "$tmp/unpacked"
tar -xzf "$tmp/$archive" -C "$tmp/unpacked" || die "cannot unpack $archive: nothing was installed"
new=$tmp/unpacked/$name/mfa-session
[ -f "$new" ] || die "$archive has no $name/mfa-session: nothing was installed"
"$new" --version >/dev/null 2>&1 || die "the downloaded mfa-session does not run on this machine: nothing was installed"

mkdir -p "$bin_dir" || die "cannot create $bin_dir"
# Copied next to the old one, then renamed over it: never half a binary.
cp "$new" "$bin_dir/.mfa-session.new.$$" || die "cannot write into $bin_dir"
chmod 755 "$bin_dir/.mfa-session.new.$$"
mv -f "$bin_dir/.mfa-session.new.$$" "$bin_dir/mfa-session"
say "installed $bin_dir/mfa-session ($("$bin_dir/mfa-session" --version))"

case $bin_dir in
  */bin)
    man_dir=${bin_dir%/bin}/share/man/man1
    if mkdir -p "$man_dir" 2>/dev/null && cp "$tmp/unpacked/$name/mfa-session.1" "$man_dir/" 2>/dev/null; then
      say "installed $man_dir/mfa-session.1"
    fi
    ;;
esac

case ":${PATH:-}:" in
  *":$bin_dir:"*) ;;
  *)
    say "$bin_dir is not on PATH; add it, then open a new terminal:"
    say "  bash: echo 'export PATH=\"$bin_dir:\$PATH\"' >> ~/.bashrc"
    say "  zsh:  echo 'export PATH=\"$bin_dir:\$PATH\"' >> ~/.zshrc"
    say "  fish: fish_add_path $bin_dir"
    ;;
esac
say "next: mfa-session --help; completions: mfa-session completions bash|zsh|fish"
