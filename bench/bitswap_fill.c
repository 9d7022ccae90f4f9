/*
 * bitswap_fill.c: put the blocks of a file into block stores for
 * bench/bitswap.sh: BLOCKS_FILE is cut into SIZE-byte blocks, each is
 * stored (CIDv1 raw, blake3) into every STORE, and its CID is printed, one
 * per line.
 * usage: bitswap_fill BLOCKS_FILE SIZE STORE...
 */
#include <stdio.h>
#include <stdlib.h>

#include "cpc/blockstore.h"
#include "cpc/error.h"

int main(int argc, char **argv) {
  cpc_blockstore *bs[16];
  int n = argc - 3, status = 1;
  size_t size;
  uint8_t *buf;
  FILE *f;
  if (argc < 4 || n > 16) {
    fprintf(stderr, "usage: bitswap_fill BLOCKS_FILE SIZE STORE...\n");
    return 2;
  }
  size = (size_t)strtoul(argv[2], NULL, 10);
  buf = malloc(size ? size : 1);
  f = fopen(argv[1], "rb");
  if (!buf || !f || size == 0 || size > CPC_BLOCK_MAX_SIZE) {
    fprintf(stderr, "bitswap_fill: cannot read %s\n", argv[1]);
    return 1;
  }
  for (int i = 0; i < n; i++) {
    int rc = cpc_blockstore_open(argv[3 + i], CPC_BLOCKSTORE_NOSYNC, &bs[i]);
    if (rc != 0) {
      fprintf(stderr, "bitswap_fill: %s: %s\n", argv[3 + i], cpc_strerror(rc));
      return 1;
    }
  }
  while (fread(buf, 1, size, f) == size) {
    cpc_cid cid;
    char text[CPC_CID_MAX_TEXT];
    for (int i = 0; i < n; i++) {
      int rc = cpc_blockstore_add(bs[i], CPC_CODEC_RAW, CPC_MH_BLAKE3, buf,
                                  size, &cid);
      if (rc != 0) {
        fprintf(stderr, "bitswap_fill: put: %s\n", cpc_strerror(rc));
        goto out;
      }
    }
    if (cpc_cid_format(&cid, CPC_MB_BASE32, text, sizeof text) != 0)
      goto out;
    printf("%s\n", text);
  }
  status = 0;
out:
  for (int i = 0; i < n; i++)
    cpc_blockstore_close(bs[i]);
  fclose(f);
  free(buf);
  return status;
}
