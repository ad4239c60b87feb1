# A throwaway unprivileged user for rootless e2e tests, with its own
# /etc/subuid and /etc/subgid range, and everything it made removed at exit.
# Source after bundle.sh (needs e2e_on_exit).
#
#   rootless_user_setup || exit 1   # sets RL_USER RL_UID RL_GID RL_HOME RL_START RL_COUNT
#   rootless_cleanup_path DIR       # also removed at exit, after the user's processes are gone
#   as_user CMD...                  # CMD as the user, from its home, HOME set
#
# rootless_skip_reason prints why the machine cannot run such a test (empty:
# it can); callers print "# skip: ..." and exit 0.

RL_USER= RL_UID= RL_GID= RL_HOME= RL_START= RL_COUNT=65536 RL_SUBLINE=
RL_PATHS=()

rootless_skip_reason() {
  if [ "$(id -u)" != 0 ]; then echo "needs root to create a user"; return; fi
  command -v newuidmap >/dev/null || { echo "newuidmap missing (uidmap)"; return; }
  command -v newgidmap >/dev/null || { echo "newgidmap missing (uidmap)"; return; }
  command -v runuser >/dev/null || { echo "runuser missing (util-linux)"; return; }
  if [ "$(cat /proc/sys/kernel/unprivileged_userns_clone 2>/dev/null || echo 1)" = 0 ] ||
     [ "$(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 1)" = 0 ]; then
    echo "the kernel refuses user namespaces to unprivileged users"
  fi
}

# rl_remove_line FILE LINE: drop exactly LINE, keep the file's inode and mode.
rl_remove_line() {
  local f=$1 l=$2
  [ -f "$f" ] || return 0
  grep -vxF -- "$l" "$f" >"$f.berth-test.$$" || true
  cat "$f.berth-test.$$" >"$f"
  rm -f "$f.berth-test.$$"
}

rootless_cleanup_path() { RL_PATHS+=("$1"); }

rootless_user_cleanup() {
  local uid pids i p
  uid=$(id -u "$RL_USER" 2>/dev/null) || uid=
  if [ -n "$uid" ]; then
    # Every process of the throwaway user is ours (pause processes, monitors,
    # containers, slirp4netns): killed by pid, then waited for.
    for i in 1 2 3 4 5; do
      pids=$(ps -o pid= -u "$uid" 2>/dev/null | tr -s ' \n' ' ')
      [ -z "${pids// /}" ] && break
      # shellcheck disable=SC2086
      kill -9 $pids 2>/dev/null
      sleep 0.2
    done
    # Container processes running as subordinate uids.
    pids=$(ps -eo pid=,uid= | awk -v s="$RL_START" -v n="$RL_COUNT" '$2 >= s && $2 < s + n {print $1}')
    # shellcheck disable=SC2086
    [ -z "$pids" ] || kill -9 $pids 2>/dev/null
  fi
  for p in "${RL_PATHS[@]}"; do rm -rf --one-file-system "$p"; done
  userdel -r "$RL_USER" >/dev/null 2>&1
  [ ! -d "/home/$RL_USER" ] || rm -rf --one-file-system "/home/$RL_USER"
  rl_remove_line /etc/subuid "$RL_SUBLINE"
  rl_remove_line /etc/subgid "$RL_SUBLINE"
}

rootless_user_setup() {
  RL_USER=berth-rootless-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
  # A range no other test or user is likely to hold; written and removed as exact lines.
  RL_START=$((1000000 + (RANDOM % 4096) * 65536))
  RL_SUBLINE="$RL_USER:$RL_START:$RL_COUNT"
  e2e_on_exit rootless_user_cleanup
  # No automatic subordinate ids (useradd would add its own range first): ours only.
  useradd -m -s /bin/sh -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$RL_USER" ||
    { echo "FAIL - useradd $RL_USER"; return 1; }
  echo "$RL_SUBLINE" >>/etc/subuid
  echo "$RL_SUBLINE" >>/etc/subgid
  RL_UID=$(id -u "$RL_USER")
  RL_GID=$(id -g "$RL_USER")
  RL_HOME=/home/$RL_USER
}

# as_user CMD...: CMD as the user from its home, with HOME set and no
# XDG_RUNTIME_DIR unless the caller exports RL_XDG (then it is that).
as_user() {
  if [ -n "${RL_XDG:-}" ]; then
    (cd "$RL_HOME" && runuser -u "$RL_USER" -- env HOME="$RL_HOME" XDG_RUNTIME_DIR="$RL_XDG" "$@")
  else
    (cd "$RL_HOME" && runuser -u "$RL_USER" -- env -u XDG_RUNTIME_DIR HOME="$RL_HOME" "$@")
  fi
}
