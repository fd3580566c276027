# librdkafka.sh - sourced by scripts/bootstrap: which librdkafka stockd builds against and where
# scripts/bootstrap installs it when the system's is older.
#
# Defines the pin (RDKAFKA_*) and rdkafka_prefix.

# Debian 13 (trixie)'s source package; the sha256 sums are those its .dsc lists (and the .dsc's own).
readonly RDKAFKA_VERSION=2.8.0
readonly RDKAFKA_DEBIAN_VERSION=2.8.0-1
readonly RDKAFKA_ORIG_SHA256=5bd1c46f63265f31c6bfcedcde78703f77d28238eadf23821c2b43fc30be3e25
readonly RDKAFKA_DSC_SHA256=0e9f099090072fe33da42303e1878f7f4713f91b94aa6523a9d630fe67eb2b51

rdkafka_prefix=${HOME:?set HOME}/.cache/stockd/librdkafka-$RDKAFKA_VERSION
