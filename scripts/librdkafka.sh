# librdkafka.sh - sourced by scripts/bootstrap, scripts/test and scripts/run: which librdkafka stockd builds
# against and where scripts/bootstrap installs it when the system's is older (docs/librdkafka.md).
#
# Defines the pin (RDKAFKA_*), rdkafka_prefix, and two functions: rdkafka_pkg_config_path (puts the prefix
# first on PKG_CONFIG_PATH, as CMakeLists.txt does itself) and rdkafka_configure (configures a CMake build
# dir when it has no cache, or when its cache holds another librdkafka than pkg-config now finds).
# CMakeLists.txt pins the same version (STOCKD_RDKAFKA_VERSION): change the two together.

# Debian 13 (trixie)'s source package; the sha256 sums are those its .dsc lists (and the .dsc's own).
readonly RDKAFKA_VERSION=2.8.0
readonly RDKAFKA_DEBIAN_VERSION=2.8.0-1
readonly RDKAFKA_ORIG_SHA256=5bd1c46f63265f31c6bfcedcde78703f77d28238eadf23821c2b43fc30be3e25
readonly RDKAFKA_DSC_SHA256=0e9f099090072fe33da42303e1878f7f4713f91b94aa6523a9d630fe67eb2b51

rdkafka_prefix=${HOME:?set HOME}/.cache/stockd/librdkafka-$RDKAFKA_VERSION

# Exports PKG_CONFIG_PATH with the prefix's pkgconfig dir first, when scripts/bootstrap has installed it.
rdkafka_pkg_config_path() {
  local dir=$rdkafka_prefix/lib/pkgconfig
  [ -f "$dir/rdkafka.pc" ] || return 0
  case ":${PKG_CONFIG_PATH:-}:" in
    *":$dir:"*) ;;
    *) export PKG_CONFIG_PATH=$dir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH} ;;
  esac
}

# Usage: rdkafka_configure BUILD_DIR [CMAKE_ARGS...]
# Configures BUILD_DIR when it has no CMakeCache.txt. A cache whose librdkafka (version and library dir,
# as pkg_check_modules cached them) is not the one pkg-config finds now is removed first: CMake would
# otherwise keep linking the library it found before, e.g. Debian 12's 2.0.2, whatever the headers say.
rdkafka_configure() {
  local build_dir=$1 cache=$1/CMakeCache.txt cached wanted
  shift
  rdkafka_pkg_config_path
  if [ -f "$cache" ]; then
    cached="$(sed -n 's/^RDKAFKA_VERSION:INTERNAL=//p' "$cache") in $(sed -n 's/^RDKAFKA_LIBDIR:INTERNAL=//p' "$cache")"
    wanted="$(pkg-config --modversion rdkafka 2>/dev/null || true) in $(pkg-config --variable=libdir rdkafka 2>/dev/null || true)"
    if [ "$cached" = "$wanted" ]; then
      return 0
    fi
    echo "${0##*/}: $build_dir was configured with librdkafka '$cached', pkg-config now finds '$wanted': configuring it afresh"
    rm -f "$cache"
  fi
  cmake -S . -B "$build_dir" "$@"
}
