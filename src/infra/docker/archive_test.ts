import assert from "node:assert/strict";
import { kindOfGoMode } from "./archive.ts";

/** Go's os.FileMode bits, as `X-Docker-Container-Path-Stat` carries them. */
const DIR = 2 ** 31;
const SYMLINK = 2 ** 27;
const DEVICE = 2 ** 26;
const NAMED_PIPE = 2 ** 25;
const SOCKET = 2 ** 24;
const SETUID = 2 ** 23;
const SETGID = 2 ** 22;
const CHAR_DEVICE = 2 ** 21;
const STICKY = 2 ** 20;
const IRREGULAR = 2 ** 19;

Deno.test("kindOfGoMode() reads the engine's stat modes as they arrive in JSON", () => {
  // Values as a Docker engine sends them.
  assert.equal(kindOfGoMode(134218239), "symlink"); // symlink 0777
  assert.equal(134218239, SYMLINK + 0o777);
  assert.equal(kindOfGoMode(2147484141), "dir"); // directory 0755
  assert.equal(2147484141, DIR + 0o755);
  assert.equal(kindOfGoMode(420), "file"); // 0644
  assert.equal(kindOfGoMode(0o755), "file");
  assert.equal(kindOfGoMode(NAMED_PIPE + 0o644), "other"); // FIFO, bit 25
  assert.equal(kindOfGoMode(NAMED_PIPE), "other");
});

Deno.test("kindOfGoMode() tells special files from files with special permission bits", () => {
  for (
    const special of [
      DEVICE,
      NAMED_PIPE,
      SOCKET,
      CHAR_DEVICE + DEVICE,
      IRREGULAR,
    ]
  ) {
    assert.equal(kindOfGoMode(special + 0o600), "other", special.toString(2));
  }
  // setuid, setgid and sticky are permissions, not kinds.
  assert.equal(kindOfGoMode(SETUID + SETGID + 0o755), "file");
  assert.equal(kindOfGoMode(DIR + STICKY + 0o777), "dir"); // /tmp
  assert.equal(kindOfGoMode(DIR + SETGID + 0o2775), "dir");
});
