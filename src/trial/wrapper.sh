# ratchet's in-container trial wrapper (spec section 5, "Order in a trial").
# Run as: sh -c "$(cat wrapper.sh)" ratchet-trial COMMAND SETUP TIMEOUT_S
# $1 the run (or check) command, $2 the setup command or "", $3 the timeout in
# seconds or "". Exits with the command's status (or the setup command's when
# that failed).
#
# ratchet puts /.ratchet-trial/nonce into the container before it starts; the
# wrapper reads it into memory and empties the file before any command runs,
# so no command can learn it. Every line the wrapper writes to
# /.ratchet-trial/log carries the nonce; ratchet reads the log back from the
# stopped container and ignores lines without it (a command can destroy the
# log, never forge it). The log is written through descriptor 9, opened
# before any command runs and closed for every command: replacing the path
# (with a FIFO, a symlink) cannot block the wrapper or redirect what it
# writes. Each line also goes to the container's stderr through descriptor 8
# (a copy of 2, closed for every command), as "\n" + line + "\n" so it stands
# on a line of its own: ratchet reads the log from there when it is whole,
# which spares reading the file back through the engine. The command's wall
# time is taken with the best clock the image has: the shell's $EPOCHREALTIME (busybox ash, bash; no fork),
# date +%s%N, busybox adjtimex (us), else /proc/uptime (10 ms). With a timeout
# a watchdog SIGKILLs every process the trial user has (kill -9 -1).
c=/.ratchet-trial
n=
read -r n < "$c/nonce" 2>/dev/null
: > "$c/nonce" 2>/dev/null
[ -n "$n" ] || { echo "ratchet: the trial control file is missing" >&2; exit 125; }
exec 9>> "$c/log" || { echo "ratchet: the trial control log cannot be opened" >&2; exit 125; }
exec 8>&2
r() { printf '%s %s\n' "$n" "$*" >&9; printf '\n%s %s\n' "$n" "$*" >&8; }
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
