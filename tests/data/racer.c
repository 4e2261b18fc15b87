/* A symlink-swap attacker for the race tests (tests/racer.py builds it static, so it runs
 * in a busybox container too).
 *
 *   racer swap A B SECONDS        exchange A and B (renameat2 RENAME_EXCHANGE) in a loop
 *   racer each PREFIX N LINK TARGET SECONDS
 *                                 for i in 0..N-1: wait until PREFIX<i> (printf "%03d")
 *                                 exists, make LINK<i> a symlink to TARGET and exchange
 *                                 the two once
 *
 * Errors (a name missing for a moment) are ignored; it stops after SECONDS.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static int exchange(const char *a, const char *b) {
    return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE);
}

static int expired(time_t end) { return time(NULL) >= end; }

int main(int argc, char **argv) {
    if (argc == 5 && argv[1][0] == 's') {
        time_t end = time(NULL) + atoi(argv[4]);
        for (unsigned long n = 0;; n++) {
            exchange(argv[2], argv[3]);
            if ((n & 1023) == 0 && expired(end)) return 0;
        }
    }
    if (argc == 7 && argv[1][0] == 'e') {
        time_t end = time(NULL) + atoi(argv[6]);
        struct stat st;
        int count = atoi(argv[3]);
        char name[4096], link[4096];
        for (int i = 0; i < count; i++) {
            snprintf(name, sizeof name, "%s%03d", argv[2], i);
            snprintf(link, sizeof link, "%s%03d", argv[4], i);
            for (unsigned long n = 0; lstat(name, &st) != 0; n++)
                if ((n & 1023) == 0 && expired(end)) return 0;
            symlink(argv[5], link);
            exchange(name, link);
        }
        return 0;
    }
    fprintf(stderr, "usage: racer swap A B SECONDS | racer each PREFIX N LINK TARGET SECONDS\n");
    return 2;
}
