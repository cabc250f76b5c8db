/** ratchet's version, shown by --version and baked into the trial image tag. */
export const VERSION = "0.1.0";
