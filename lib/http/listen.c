/*
 * listen.c: parse "ADDR:PORT" and open the listening socket the server hands
 * to libmicrohttpd (so bind errors come back with errno, and port 0 works).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cpc/error.h"
#include "http/http_int.h"

int cpc__http_parse_listen(const char *text, struct sockaddr_storage *ss,
                           socklen_t *ss_len) {
  char host[INET6_ADDRSTRLEN + 1];
  const char *port_text;
  size_t hlen;
  unsigned long port;
  char *end;

  memset(ss, 0, sizeof *ss);
  if (!text)
    return CPC_EINVAL;
  if (text[0] == '[') {
    const char *close = strchr(text, ']');
    if (!close || close[1] != ':')
      return CPC_EINVAL;
    hlen = (size_t)(close - text - 1);
    if (hlen == 0 || hlen >= sizeof host)
      return CPC_EINVAL;
    memcpy(host, text + 1, hlen);
    port_text = close + 2;
  } else {
    const char *colon = strrchr(text, ':');
    if (!colon)
      return CPC_EINVAL;
    hlen = (size_t)(colon - text);
    if (hlen == 0 || hlen >= sizeof host)
      return CPC_EINVAL;
    memcpy(host, text, hlen);
    port_text = colon + 1;
  }
  host[hlen] = '\0';
  if (port_text[0] < '0' || port_text[0] > '9')
    return CPC_EINVAL;
  errno = 0;
  port = strtoul(port_text, &end, 10);
  if (errno || *end || port > 65535)
    return CPC_EINVAL;

  if (text[0] == '[') {
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
      return CPC_EINVAL;
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    *ss_len = sizeof *a6;
  } else {
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
      return CPC_EINVAL;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    *ss_len = sizeof *a4;
  }
  return 0;
}

int cpc__http_listen(const char *text, unsigned backlog, int *fd_out,
                     uint16_t *port_out, int *is_v6) {
  struct sockaddr_storage ss;
  socklen_t ss_len;
  int fd = -1, one = 1, rc;

  *fd_out = -1;
  if ((rc = cpc__http_parse_listen(text, &ss, &ss_len)) != 0)
    return rc;
  fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return CPC_EIO;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
    goto fail;
  if (ss.ss_family == AF_INET6 &&
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0)
    goto fail;
  if (bind(fd, (struct sockaddr *)&ss, ss_len) != 0 ||
      listen(fd, backlog ? (int)backlog : 128) != 0)
    goto fail;
  ss_len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &ss_len) != 0)
    goto fail;
  *port_out =
      ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                     : ((struct sockaddr_in *)&ss)->sin_port);
  *is_v6 = ss.ss_family == AF_INET6;
  *fd_out = fd;
  return 0;
fail : {
  int saved = errno;
  close(fd);
  errno = saved;
}
  return CPC_EIO;
}
