/*
 * devnet_proc.h: the child processes of `cpc devnet`: start one with its
 * output appended to a log file, wait until it listens on its port, notice
 * when it exits, and stop them all in order.
 */
#ifndef CPC_APP_DEVNET_PROC_H
#define CPC_APP_DEVNET_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define DEVNET_MAX_ARGS 32

typedef struct devnet_proc {
  char name[32];      /* "orchestrator", "node-1", "user-1" */
  char log[4096];     /* where its stdout and stderr go (appended) */
  char *argv[DEVNET_MAX_ARGS + 1]; /* owned strings, NULL-terminated */
  pid_t pid;          /* 0 when not running */
  int status;         /* wait status once it exited */
} devnet_proc;

/* Set p's name, log file and argv (copied; at most DEVNET_MAX_ARGS, the
 * list ends with NULL). 0, or -1 when too many arguments / out of memory. */
int devnet_proc_init(devnet_proc *p, const char *name, const char *log,
                     const char *const *argv);

/* Free p's argv copies. */
void devnet_proc_free(devnet_proc *p);

/* Fork and exec p in its own process group (so the terminal's Ctrl-C
 * reaches only `cpc devnet`, which stops the children in order), stdin
 * from /dev/null. 0, or -1 with a message on stderr. */
int devnet_proc_start(devnet_proc *p);

/* Wait until 127.0.0.1:port accepts a TCP connection, p is still running,
 * and at most timeout_ms passed. 0 when it listens; -1 when p exited or
 * the time ran out (message on stderr, naming the log). */
int devnet_proc_wait_port(devnet_proc *p, uint16_t port, unsigned timeout_ms);

/* Reap any children that exited; for each, set its pid to 0, keep the
 * status and return how many exited (their names are printed). */
size_t devnet_procs_reap(devnet_proc *procs, size_t n);

/* Send SIGTERM to procs[n-1] down to procs[0] (reverse start order), wait
 * up to grace_ms for each group, then SIGKILL what is left. */
void devnet_procs_stop(devnet_proc *procs, size_t n, unsigned grace_ms);

/* Run argv to completion (output appended to log); its exit status, or -1
 * if it could not be run or was killed. */
int devnet_run(const char *const *argv, const char *log);

#endif
