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
  --config FILE   install FILE as /etc/portal/node.ini (0640); an existing node.ini that
                  differs is kept, unless --replace-config is given
  --replace-config  with --config, replace a differing node.ini; the old one is kept as
                  /etc/portal/node.ini.old
  --file FILE     copy a certificate or key into /etc/portal (repeatable); private keys
                  (*.key, or any file holding a PEM private key) get 0600, others 0644.
                  Files go directly into /etc/portal, so node.ini names them without a
                  directory: tls_cert = factory.pem
  --no-check      do not run 'portal check-config' on the configuration before installing
  --prefix DIR    install into the staging root DIR instead of /: no user is created,
                  no ownership is changed and systemd is not touched
  --uninstall     remove the binary and the unit; /etc/portal is kept
  --purge         with --uninstall, remove /etc/portal as well
  -h, --help      show this help

Before anything is written, the binary checks the configuration as it will be installed
(node.ini in /etc/portal with the --file files beside it, as 'portal check-config' would):
a configuration that would not start the node is refused and nothing is installed.

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
replace_config=no
check=yes
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
    --replace-config) replace_config=yes; shift ;;
    --no-check) check=no; shift ;;
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
if [[ $replace_config == yes && -z $config ]]; then
  die "--replace-config needs --config FILE: the node.ini to install in place of the current one" 2
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

# --- check the configuration as the node will read it -----------------------------------------

# Which node.ini the node will read after this run: --config's (new, or replacing a differing
# one), the one already installed (kept), or none yet.
config_action=none
config_source=""
if [[ -n $config ]]; then
  if [[ -e $CONFIG_PATH ]] && ! cmp -s -- "$config" "$CONFIG_PATH"; then
    if [[ $replace_config == yes ]]; then config_action=replace; else config_action=keep; fi
  else
    config_action=install
  fi
fi
case $config_action in
  install | replace) config_source="$config" ;;
  keep) config_source="$CONFIG_PATH" ;;
  none) [[ -e $CONFIG_PATH ]] && config_source="$CONFIG_PATH" ;;
esac

absolute() { (cd -- "$(dirname -- "$1")" && printf '%s/%s\n' "$(pwd)" "$(basename -- "$1")"); }

# note_moved LINE: for a check-config line about a file the installed layout moved, records the
# line node.ini needs instead in `moved`. --file puts every file directly in /etc/portal, so
# `tls_cert = certs/factory.pem` (right in a checkout's config/) names a file that is not
# there once installed; under --prefix, neither is an absolute /etc/portal/... path.
moved=()
note_moved() {
  local re="cannot read (tls_cert|tls_key|tls_ca) '([^']+)'" value base placed=no f
  [[ $1 =~ $re ]] || return 0
  value="${BASH_REMATCH[2]}" base="${BASH_REMATCH[2]##*/}"
  for f in "${files[@]}"; do [[ $(basename -- "$f") == "$base" ]] && placed=yes; done
  [[ -e $ETC_DIR/$base ]] && placed=yes
  [[ $placed == yes && $value == */* ]] || return 0
  [[ $value != /* || $prefix_given == yes ]] || return 0
  moved+=("${BASH_REMATCH[1]} = $base")
}

check_config() {
  [[ -n $config_source ]] || return 0
  if [[ $check == no ]]; then
    printf '%-16s %s\n' "not checked" "$CONFIG_PATH (--no-check)"
    return 0
  fi
  if ! "$binary" --version >/dev/null 2>&1; then
    printf '%-16s %s\n' "not checked" "$CONFIG_PATH ($binary does not run here, e.g. another architecture: run 'portal check-config --config /etc/portal/node.ini' on the host)"
    return 0
  fi
  # A private copy of /etc/portal as it will be: what is installed, the --file files over it,
  # and the node.ini the node will read. Links, so keys are not copied anywhere.
  local stage f status=0 output
  stage="$(mktemp -d "${TMPDIR:-/tmp}/portal-check.XXXXXX")" || die "cannot create a temporary directory to check the configuration"
  if [[ -d $ETC_DIR ]]; then
    for f in "$ETC_DIR"/* "$ETC_DIR"/.[!.]*; do
      [[ -e $f && ${f##*/} != node.ini ]] && ln -s -- "$f" "$stage/${f##*/}"
    done
  fi
  for f in "${files[@]}"; do ln -sfn -- "$(absolute "$f")" "$stage/$(basename -- "$f")"; done
  cp -- "$config_source" "$stage/node.ini"
  local runner=()
  command -v timeout >/dev/null 2>&1 && runner=(timeout 60)
  output="$("${runner[@]}" "$binary" check-config --config "$stage/node.ini" 2>&1)" || status=$?
  rm -rf -- "$stage"
  # Name the files as the operator knows them: the source of node.ini, the installed paths.
  output="${output//"$stage/node.ini"/"$config_source"}"
  output="${output//"$stage"/"$ETC_DIR"}"
  if [[ $status -eq 0 ]]; then
    printf '%-16s %s\n' checked "$CONFIG_PATH (as 'portal check-config' reads it)"
    grep -E '^ *warning: ' <<<"$output" | sed -E 's/^ *//' || true
    return 0
  fi
  {
    if [[ $status -eq 2 ]]; then
      printf '%s: %s would not start the node, so nothing was installed:\n' "$SCRIPT_NAME" "$config_source"
    else
      printf '%s: could not check %s with %s (exit status %s), so nothing was installed:\n' "$SCRIPT_NAME" "$config_source" "$binary" "$status"
    fi
    local line
    while IFS= read -r line; do
      printf '  %s\n' "$line"
      note_moved "$line"
    done <<<"$output"
    if [[ ${#moved[@]} -gt 0 ]]; then
      local joined
      joined="$(printf '%s, ' "${moved[@]}")"
      printf 'install.sh puts --file files directly in %s, next to node.ini (which reads relative paths from its own directory): in %s write %s.\n' \
        "$ETC_DIR" "${config_source##*/}" "${joined%, }"
    fi
    if [[ $config_action == keep ]]; then
      printf 'The installed %s was checked because it is kept: it differs from %s. To install %s in its place, run again with --replace-config.\n' "$CONFIG_PATH" "$config" "$config"
    else
      printf 'Fix %s and run %s again (--no-check installs it anyway).\n' "$config_source" "$SCRIPT_NAME"
    fi
  } >&2
  exit 1
}
check_config

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

case $config_action in
  keep)
    # The installed node.ini is the operator's: it is edited in place and must survive upgrades.
    printf '%-16s %s\n' kept "$CONFIG_PATH (it differs from $config and is not overwritten; compare them with: diff $CONFIG_PATH $config; to install $config in its place, run again with --replace-config)"
    fix_mode "$CONFIG_PATH" 0640 "$root_owner" unchanged quiet
    ;;
  replace)
    put_file "$CONFIG_PATH" "$CONFIG_PATH.old" 0640 "$root_owner" >/dev/null
    put_file "$config" "$CONFIG_PATH" 0640 "$root_owner" >/dev/null
    printf '%-16s %s\n' replaced "$CONFIG_PATH (the previous one is kept as $CONFIG_PATH.old)"
    ;;
  install) put_file "$config" "$CONFIG_PATH" 0640 "$root_owner" ;;
esac

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
  echo "next: systemctl enable --now portal (or systemctl restart portal if it runs)"
fi
