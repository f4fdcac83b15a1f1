#!/usr/bin/env bash
# Installs (or removes) Portal on a systemd host: the binary, the unit, /etc/portal.
# Idempotent: every file is compared before it is written, so a second run changes nothing.
# See docs/operations.md.
set -euo pipefail

readonly SCRIPT_NAME="install.sh"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly REPO_DIR="${SCRIPT_DIR%/*}"
readonly SERVICE_USER="portal"

usage() {
  cat <<EOF
Usage: $SCRIPT_NAME [options]

Installs Portal: the binary to /usr/local/bin/portal, the systemd unit to
/etc/systemd/system/portal.service and the configuration directory /etc/portal.
Running it again changes nothing unless an input changed.

Options:
  --binary PATH   the portal executable to install (default: $REPO_DIR/dist/portal,
                  built by 'deno task compile')
  --config FILE   install FILE as /etc/portal/node.ini (0640); an existing node.ini is
                  never overwritten
  --file FILE     copy a certificate or key into /etc/portal (repeatable); private keys
                  (*.key, or any file holding a PEM private key) get 0600, others 0644
  --prefix DIR    install into the staging root DIR instead of /: no user is created,
                  no ownership is changed and systemd is not touched
  --uninstall     remove the binary and the unit; /etc/portal is kept
  --purge         with --uninstall, remove /etc/portal as well
  -h, --help      show this help

As root without --prefix it also creates the system user '$SERVICE_USER' when missing,
gives /etc/portal and its files to group '$SERVICE_USER', and runs
'systemctl daemon-reload' when the unit changed and systemd is running.
EOF
}

die() {
  printf '%s: %s\n' "$SCRIPT_NAME" "$1" >&2
  exit "${2:-1}"
}

# --- arguments ---------------------------------------------------------------------------------

binary="$REPO_DIR/dist/portal"
binary_given=no
config=""
prefix=""
prefix_given=no
uninstall=no
purge=no
files=()

need_value() {
  [[ $# -ge 2 && -n "$2" ]] || die "option $1 needs a value (see --help)" 2
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --binary) need_value "$@"; binary="$2"; binary_given=yes; shift 2 ;;
    --binary=*) binary="${1#*=}"; binary_given=yes; shift ;;
    --config) need_value "$@"; config="$2"; shift 2 ;;
    --config=*) config="${1#*=}"; shift ;;
    --file) need_value "$@"; files+=("$2"); shift 2 ;;
    --file=*) files+=("${1#*=}"); shift ;;
    --prefix) need_value "$@"; prefix="$2"; prefix_given=yes; shift 2 ;;
    --prefix=*) prefix="${1#*=}"; prefix_given=yes; shift ;;
    --uninstall) uninstall=yes; shift ;;
    --purge) purge=yes; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" 2 ;;
  esac
done

if [[ $purge == yes && $uninstall == no ]]; then
  die "--purge only makes sense with --uninstall" 2
fi
if [[ $uninstall == yes && ($binary_given == yes || -n $config || ${#files[@]} -gt 0) ]]; then
  die "--uninstall takes no --binary, --config or --file" 2
fi

if [[ $prefix_given == yes ]]; then
  [[ -n $prefix ]] || die "--prefix needs a directory" 2
  mkdir -p -- "$prefix" || die "cannot create the staging root '$prefix'"
  prefix="$(cd -- "$prefix" && pwd)"
  [[ $prefix != / ]] || die "--prefix / is the real root: omit --prefix to install into /" 2
fi

# Only a real install (root, no staging prefix) creates users, changes ownership or talks
# to systemd; a staging root must be usable by an unprivileged user and by tests.
real_root=no
if [[ $prefix_given == no ]]; then
  [[ $EUID -eq 0 ]] || die "installing into / needs root: run it with sudo, or pass --prefix DIR to stage the files elsewhere"
  real_root=yes
fi

readonly BIN_PATH="$prefix/usr/local/bin/portal"
readonly UNIT_PATH="$prefix/etc/systemd/system/portal.service"
readonly ETC_DIR="$prefix/etc/portal"
readonly CONFIG_PATH="$ETC_DIR/node.ini"
readonly UNIT_SOURCE="$REPO_DIR/config/portal.service"

systemd_running() {
  # sd_booted(3): systemd is PID 1 exactly when this directory exists.
  [[ $real_root == yes ]] && command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]
}

# --- file helpers ------------------------------------------------------------------------------

owner_of() { stat -c '%U:%G' -- "$1"; }
mode_of() { stat -c '%a' -- "$1"; }

# put_file SRC DEST MODE OWNER: writes SRC to DEST unless identical, then fixes mode/owner.
# OWNER is "" (leave as created) or "user:group". Prints one line saying what happened.
# The copy goes to a temporary file beside DEST and is renamed over it, so a running
# binary is never modified in place and a reader never sees half a file.
put_file() {
  local src="$1" dest="$2" mode="$3" owner="$4" verb
  if [[ -e $dest ]] && cmp -s -- "$src" "$dest"; then
    verb=unchanged
  else
    if [[ -e $dest ]]; then verb=updated; else verb=installed; fi
    mkdir -p -- "$(dirname -- "$dest")"
    local tmp
    tmp="$(mktemp -- "$dest.XXXXXX")"
    if ! cp -- "$src" "$tmp" || ! chmod "$mode" -- "$tmp" ||
      { [[ -n $owner ]] && ! chown "$owner" -- "$tmp"; } || ! mv -f -- "$tmp" "$dest"; then
      rm -f -- "$tmp"
      die "could not write $dest"
    fi
  fi
  fix_mode "$dest" "$mode" "$owner" "$verb"
}

# fix_mode PATH MODE OWNER VERB [quiet]: corrects mode and owner, then prints VERB, or
# "fixed ..." when only the mode or owner had to change; "quiet" prints nothing if nothing did.
fix_mode() {
  local path="$1" mode="$2" owner="$3" verb="$4" quiet="${5:-}" current
  current="$(mode_of "$path")"
  if [[ $current != "${mode#0}" ]]; then
    chmod "$mode" -- "$path"
    [[ $verb == unchanged ]] && verb="fixed mode of"
  fi
  [[ -z $owner ]] || current="$(owner_of "$path")"
  if [[ -n $owner && $current != "$owner" ]]; then
    chown "$owner" -- "$path"
    [[ $verb == unchanged ]] && verb="fixed owner of"
  fi
  [[ $quiet == quiet && $verb == unchanged ]] || printf '%-16s %s\n' "$verb" "$path"
}

is_private_key() {
  [[ $1 == *.key ]] || grep -q -- '-----BEGIN [A-Z ]*PRIVATE KEY-----' "$1"
}

# --- uninstall ---------------------------------------------------------------------------------

remove_path() {
  if [[ -e $1 || -L $1 ]]; then
    rm -rf -- "$1"
    printf '%-16s %s\n' removed "$1"
  else
    printf '%-16s %s\n' absent "$1"
  fi
}

if [[ $uninstall == yes ]]; then
  if systemd_running && systemctl cat portal.service >/dev/null 2>&1; then
    # Stop it before its binary disappears, and drop the enablement symlinks with it.
    systemctl disable --now portal.service || die "could not stop and disable portal.service"
  fi
  remove_path "$BIN_PATH"
  unit_was_there=no
  [[ -e $UNIT_PATH ]] && unit_was_there=yes
  remove_path "$UNIT_PATH"
  if [[ $purge == yes ]]; then
    remove_path "$ETC_DIR"
  elif [[ -d $ETC_DIR ]]; then
    printf '%-16s %s\n' kept "$ETC_DIR (configuration; --purge removes it)"
  fi
  if [[ $unit_was_there == yes ]] && systemd_running; then
    systemctl daemon-reload
    echo "systemd reloaded"
  fi
  if [[ $real_root == yes ]] && getent passwd "$SERVICE_USER" >/dev/null; then
    echo "note: the system user '$SERVICE_USER' is kept (remove it with: userdel $SERVICE_USER)"
  fi
  exit 0
fi

# --- install: check every input before touching anything --------------------------------------

if [[ ! -f $binary ]]; then
  if [[ $binary_given == yes ]]; then
    die "binary '$binary' does not exist"
  fi
  die "binary '$binary' does not exist: build it with 'deno task compile' or pass --binary PATH"
fi
[[ -x $binary ]] || die "binary '$binary' is not executable (chmod +x it, or pass the right --binary)"
[[ -f $UNIT_SOURCE ]] || die "unit file '$UNIT_SOURCE' is missing: run $SCRIPT_NAME from a Portal checkout"
if [[ -n $config ]]; then
  [[ -f $config && -r $config ]] || die "config file '$config' does not exist or is not readable"
fi
for f in "${files[@]}"; do
  [[ -f $f && -r $f ]] || die "file '$f' (from --file) does not exist or is not readable"
  [[ $(basename -- "$f") != node.ini ]] || die "pass node.ini with --config, not --file"
done

# --- install -----------------------------------------------------------------------------------

root_owner=""
key_owner=""
if [[ $real_root == yes ]]; then
  if ! getent passwd "$SERVICE_USER" >/dev/null; then
    command -v useradd >/dev/null 2>&1 || die "cannot create the user '$SERVICE_USER': useradd is not installed"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin --comment "Portal edge node" "$SERVICE_USER" ||
      die "could not create the system user '$SERVICE_USER'"
    printf '%-16s %s\n' created "system user $SERVICE_USER"
  fi
  # Root owns what the service only reads; the group lets the service read it. Private keys
  # belong to the service user so that 0600 still lets it read them.
  root_owner="root:$SERVICE_USER"
  key_owner="$SERVICE_USER:$SERVICE_USER"
fi

put_file "$binary" "$BIN_PATH" 0755 "${root_owner:+root:root}"

unit_verb_before=""
[[ -e $UNIT_PATH ]] && cmp -s -- "$UNIT_SOURCE" "$UNIT_PATH" && unit_verb_before=same
put_file "$UNIT_SOURCE" "$UNIT_PATH" 0644 "${root_owner:+root:root}"

if [[ -d $ETC_DIR ]]; then
  fix_mode "$ETC_DIR" 0750 "$root_owner" unchanged
else
  mkdir -p -- "$ETC_DIR"
  fix_mode "$ETC_DIR" 0750 "$root_owner" created
fi

if [[ -n $config ]]; then
  if [[ -e $CONFIG_PATH ]] && ! cmp -s -- "$config" "$CONFIG_PATH"; then
    # The installed node.ini is the operator's: it is edited in place and must survive upgrades.
    printf '%-16s %s\n' kept "$CONFIG_PATH (it exists and differs from $config; it is never overwritten: edit it, or remove it and run again)"
    fix_mode "$CONFIG_PATH" 0640 "$root_owner" unchanged quiet
  else
    put_file "$config" "$CONFIG_PATH" 0640 "$root_owner"
  fi
fi

for f in "${files[@]}"; do
  dest="$ETC_DIR/$(basename -- "$f")"
  if is_private_key "$f"; then
    put_file "$f" "$dest" 0600 "$key_owner"
  else
    put_file "$f" "$dest" 0644 "$root_owner"
  fi
done

if [[ $unit_verb_before != same ]] && systemd_running; then
  systemctl daemon-reload
  echo "systemd reloaded"
fi

if [[ ! -e $CONFIG_PATH ]]; then
  echo "next: write $CONFIG_PATH (or pass --config FILE), then: systemctl enable --now portal"
elif [[ $real_root == yes ]]; then
  echo "next: portal check-config --config $CONFIG_PATH && systemctl enable --now portal"
fi
