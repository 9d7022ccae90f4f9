/* devnet_proc.c: start, watch and stop the processes of `cpc devnet`. */
#define _GNU_SOURCE
#include "devnet_proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(unsigned ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

int devnet_proc_init(devnet_proc *p, const char *name, const char *log,
                     const char *const *argv) {
  memset(p, 0, sizeof *p);
  snprintf(p->name, sizeof p->name, "%s", name);
  snprintf(p->log, sizeof p->log, "%s", log);
  for (size_t i = 0; argv[i]; i++) {
    if (i == DEVNET_MAX_ARGS || !(p->argv[i] = strdup(argv[i]))) {
      devnet_proc_free(p);
      return -1;
    }
  }
  return 0;
}

void devnet_proc_free(devnet_proc *p) {
  for (size_t i = 0; i < DEVNET_MAX_ARGS && p->argv[i]; i++) {
    free(p->argv[i]);
    p->argv[i] = NULL;
  }
}

/* In the child: stdin from /dev/null, stdout and stderr appended to log. */
static void child_exec(char *const *argv, const char *log) {
  int in = open("/dev/null", O_RDONLY);
  int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (in < 0 || out < 0) _exit(126);
  dup2(in, 0);
  dup2(out, 1);
  dup2(out, 2);
  close(in);
  close(out);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  execv(argv[0], argv);
  fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

int devnet_proc_start(devnet_proc *p) {
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "cpc devnet: fork for %s: %s\n", p->name, strerror(errno));
    return -1;
  }
  if (pid == 0) {
    setpgid(0, 0);
    child_exec(p->argv, p->log);
  }
  setpgid(pid, pid); /* also here: no race with the first kill */
  p->pid = pid;
  p->status = 0;
  return 0;
}

static int port_open(uint16_t port) {
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

static void describe_exit(const devnet_proc *p) {
  if (WIFEXITED(p->status))
    fprintf(stderr, "cpc devnet: %s exited with status %d (log: %s)\n", p->name,
            WEXITSTATUS(p->status), p->log);
  else if (WIFSIGNALED(p->status))
    fprintf(stderr, "cpc devnet: %s was killed by signal %d (log: %s)\n",
            p->name, WTERMSIG(p->status), p->log);
}

int devnet_proc_wait_port(devnet_proc *p, uint16_t port, unsigned timeout_ms) {
  for (unsigned waited = 0;; waited += 50) {
    if (port_open(port)) return 0;
    if (waitpid(p->pid, &p->status, WNOHANG) == p->pid) {
      p->pid = 0;
      describe_exit(p);
      return -1;
    }
    if (waited >= timeout_ms) {
      fprintf(stderr,
              "cpc devnet: %s does not listen on port %u after %u s (log: %s)\n",
              p->name, (unsigned)port, timeout_ms / 1000, p->log);
      return -1;
    }
    sleep_ms(50);
  }
}

size_t devnet_procs_reap(devnet_proc *procs, size_t n) {
  size_t exited = 0;
  for (size_t i = 0; i < n; i++) {
    if (procs[i].pid > 0 &&
        waitpid(procs[i].pid, &procs[i].status, WNOHANG) == procs[i].pid) {
      procs[i].pid = 0;
      describe_exit(&procs[i]);
      exited++;
    }
  }
  return exited;
}

void devnet_procs_stop(devnet_proc *procs, size_t n, unsigned grace_ms) {
  for (size_t k = n; k-- > 0;) {
    devnet_proc *p = &procs[k];
    if (p->pid <= 0) continue;
    kill(-p->pid, SIGTERM);
    for (unsigned waited = 0; waited < grace_ms; waited += 50) {
      if (waitpid(p->pid, &p->status, WNOHANG) == p->pid) {
        p->pid = 0;
        break;
      }
      sleep_ms(50);
    }
    if (p->pid > 0) {
      fprintf(stderr, "cpc devnet: %s did not stop in %u s; killing it\n",
              p->name, grace_ms / 1000);
      kill(-p->pid, SIGKILL);
      waitpid(p->pid, &p->status, 0);
      p->pid = 0;
    }
  }
}

int devnet_run(const char *const *argv, const char *log) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) child_exec((char *const *)argv, log);
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
