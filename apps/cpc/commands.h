/*
 * commands.h: the subcommands of the `cpc` binary. Each takes the arguments
 * after its name (argv[0] is the subcommand name) and returns the process
 * exit status: 0 on success, 1 on a failure it has reported on stderr, 2 on
 * a usage error.
 */
#ifndef CPC_APP_COMMANDS_H
#define CPC_APP_COMMANDS_H

int cpc_cmd_hash(int argc, char **argv);    /* cmd_hash.c */
int cpc_cmd_cid(int argc, char **argv);     /* cmd_cid.c */
int cpc_cmd_id(int argc, char **argv);      /* cmd_id.c */
int cpc_cmd_key(int argc, char **argv);     /* cmd_key.c */
int cpc_cmd_encrypt(int argc, char **argv); /* cmd_crypt.c */
int cpc_cmd_decrypt(int argc, char **argv); /* cmd_crypt.c */
int cpc_cmd_block(int argc, char **argv);   /* cmd_block.c */
int cpc_cmd_net(int argc, char **argv);     /* cmd_net.c */
int cpc_cmd_dht(int argc, char **argv);     /* cmd_dht.c */
/* Commands that drive the user's PDS through its local API. */
int cpc_cmd_put(int argc, char **argv);       /* cmd_put.c */
int cpc_cmd_get(int argc, char **argv);       /* cmd_get.c */
int cpc_cmd_ls(int argc, char **argv);        /* cmd_ls.c */
int cpc_cmd_rm(int argc, char **argv);        /* cmd_rm.c */
int cpc_cmd_status(int argc, char **argv);    /* cmd_status.c */
int cpc_cmd_follow(int argc, char **argv);    /* cmd_follow.c */
int cpc_cmd_unfollow(int argc, char **argv);  /* cmd_follow.c */
int cpc_cmd_followers(int argc, char **argv); /* cmd_follow.c */
int cpc_cmd_following(int argc, char **argv); /* cmd_follow.c */
int cpc_cmd_profile(int argc, char **argv);   /* cmd_profile.c */
int cpc_cmd_search(int argc, char **argv);    /* cmd_search.c */
int cpc_cmd_devnet(int argc, char **argv);  /* cmd_devnet.c */

/* Print "cpc <cmd>: <message>" to stderr; returns 1 for `return cpc_fail(...)`. */
int cpc_fail(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* 1 if arg is -h or --help. */
int cpc_is_help(const char *arg);

#endif
