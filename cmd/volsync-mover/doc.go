// Command volsync-mover is the one binary of the mover image. A mover Job runs
//
//	volsync-mover <mover> <source|destination>
//
// and the mover's package does the rest: it reads its settings from the environment, moves the
// data with the real tool (rsync, ssh, stunnel, ...), logs readable lines on stdout and writes a
// JSON summary to the termination log. The exit code is 0 for success, non-zero for failure.
package main
