# ratchet's in-container trial wrapper (spec section 5, "Order in a trial").
# Run as: sh -c "$(cat wrapper.sh)" ratchet-trial COMMAND SETUP TIMEOUT_S
# $1 the run (or check) command, $2 the setup command or "", $3 the timeout in
# seconds or "". Exits with the command's status (or the setup command's when
# that failed).
#
# The wrapper draws a nonce from the kernel before any command runs and keeps
# it in memory. Every line it writes carries the nonce: ratchet ignores lines
# without it, so a command can destroy the control log, never forge it. The
# first line ("begin") goes to the container's stderr before any command
# runs: that is how ratchet learns the nonce (a command cannot read the
# container's output). Each line goes to stderr through descriptor 8 (a copy
# of 2, closed for every command) as "\n" + line + "\n", so it stands on a
# line of its own; ratchet reads the log from there when it is whole. It
# also goes to /.ratchet-trial/log through descriptor 9, opened before any
# command runs and closed for every command, which ratchet reads back from
# the stopped container only when stderr was cut. The control directory and
# its files come with the tree's image, owned by another user: the trial
# user can append to the log (or truncate it) but not read, replace or
# chmod it, so a command cannot learn the nonce there either. The command's
# wall time is taken with the best clock the image has: the shell's
# $EPOCHREALTIME (busybox ash, bash; no fork), date +%s%N, busybox adjtimex
# (us), else /proc/uptime (10 ms). With a timeout a watchdog SIGKILLs every
# process the trial user has (kill -9 -1).
c=/.ratchet-trial
n=
# Nothing may reach stderr before the announcement: errors are silenced first.
read -r n 2>/dev/null < /proc/sys/kernel/random/uuid
[ -n "$n" ] || n=$(od -An -N16 -tx1 /dev/urandom 2>/dev/null | tr -d ' \n')
[ -n "$n" ] || { echo "ratchet: no random source for the trial nonce (/proc/sys/kernel/random/uuid, /dev/urandom)" >&2; exit 125; }
# The image holds the log; a failed `exec` redirection would end the shell
# with its own message and status, so it is checked first.
[ -w "$c/log" ] || { echo "ratchet: the trial control log $c/log is missing or not writable (the image was not built by ratchet)" >&2; exit 125; }
exec 9>> "$c/log"
exec 8>&2
r() { printf '%s %s\n' "$n" "$*" >&9; printf '\n%s %s\n' "$n" "$*" >&8; }
r begin
k=up
case $EPOCHREALTIME in
  [0-9]*[.,][0-9]*) k=er ;;
  *)
    v=$(date +%s%N 2>/dev/null)
    case $v in ''|*[!0-9]*) adjtimex >/dev/null 2>&1 && k=us ;; *) k=ns ;; esac ;;
esac
now() {
  case $k in
    ns) date +%s%N ;;
    us) adjtimex 2>/dev/null | sed -n -e 's/^ *time\.tv_sec: *\([0-9]*\).*/\1/p' -e 's/^ *time\.tv_usec: *\([0-9]*\).*/\1/p' | tr '\n' ':' ;;
    *) read -r v _ < /proc/uptime; echo "$v" ;;
  esac
}
if [ -n "$2" ]; then
  (cd /work && exec sh -c "$2") > "$c/setup.out" 2>&1 < /dev/null 9>&- 8>&-
  s=$?
  if [ "$s" -ne 0 ]; then r setup "$s"; exit "$s"; fi
fi
cd /work || exit 125
r start
if [ $k = er ]; then t0=$EPOCHREALTIME; else t0=$(now); fi
if [ -n "$3" ]; then
  sh -c "$1" 9>&- 8>&- & p=$!
  (sleep "$3"; r timeout; kill -9 -1) < /dev/null > /dev/null 2>&1 & w=$!
  wait "$p"; s=$?
  if [ $k = er ]; then t1=$EPOCHREALTIME; else t1=$(now); fi
  kill -9 "$w" 2>/dev/null
else
  sh -c "$1" 9>&- 8>&-; s=$?
  if [ $k = er ]; then t1=$EPOCHREALTIME; else t1=$(now); fi
fi
r wall "$k" "$t0" "$t1" "$s"
exit "$s"
