// Package job is the Job plumbing every mover shares: it builds the mover Job from a Spec (image,
// command, environment, volumes and the user's MoverConfig) with a least-privilege pod by default,
// runs it to an Outcome, and reads the summary the mover writes to /dev/termination-log.
//
// Retries are bounded: the Job's own backoffLimit (spec moverBackoffLimit, default 2), and exit
// codes that retrying cannot fix (restic's 11, a locked repository) fail the Job at once through a
// pod failure policy. A failed Job is reported as a failed sync; the controller retries at the
// next trigger with its own backoff, never by recreating the Job in a loop.
//
// The contract with the mover image's entry points:
//
//   - command: volsync-mover <rsync|rsync-tls|rclone|restic> <source|destination>;
//   - the data volume at /data (read-only on sources), restic's cache at /cache, keys read-only at
//     /keys (rsync: source, source.pub, destination, destination.pub as each side needs them;
//     rsync-tls: psk.txt holding volsync:<64 hex digits>), rclone.conf at /rclone-config, a custom
//     CA at /customca/ca.crt (CUSTOM_CA names it), and a writable /tmp on a read-only root;
//   - environment: DESTINATION_ADDRESS and DESTINATION_PORT on rsync and rsync-tls sources,
//     SSH_USER on rsync sources, LISTEN_PORT on their destinations (8022 for ssh behind Service
//     port 22, 8000 for rsync-tls); RCLONE_CONFIG, RCLONE_CONFIG_SECTION, RCLONE_DEST_PATH for
//     rclone; the repository Secret as environment plus FORGET_OPTIONS, PRUNE, UNLOCK,
//     RESTIC_EXCLUDES (newline separated), RESTORE_AS_OF, SELECT_PREVIOUS, ENABLE_FILE_DELETION for
//     restic, with "1" for yes;
//   - outcome: exit 0 is success, anything else failure, 11 a locked restic repository; the
//     mover writes {"result":"Successful|Failed","message":"...","bytes":N,"files":M} to
//     /dev/termination-log, and without it the kubelet's fallback (the log's tail) is kept.
package job
