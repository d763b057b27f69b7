// guestbench: the in-guest side of virtio_bench.sh, carried into a copy of the rootfs (busybox has
// no fio). O_DIRECT so that the guest's page cache stays out of the figures.
//   guestbench seqwrite DEV MIB       1 MiB writes, then fsync; prints MiB/s
//   guestbench seqread DEV MIB        1 MiB reads; prints MiB/s
//   guestbench randread DEV SECONDS [DEPTH]
//                                     4 KiB reads at random aligned offsets from DEPTH threads
//                                     (default 1), so DEPTH requests in flight; IOPS
//   guestbench tcpsend IP PORT MIB [FILE [nowait]]
//                                     sends MIB of zeros (or FILE's first MIB), waits for the peer
//                                     to close; MiB/s. With nowait: exits as soon as the last
//                                     write() returns (the data may still be queued), for a reset
//                                     right after it
//   guestbench tcprecv IP PORT MIB    connects and reads MIB from the peer, then closes; MiB/s from
//                                     the connect to the last byte
//   guestbench http IP PORT PATH [HEADER]
//                                     one GET (with HEADER, e.g. "Accept: application/json");
//                                     prints the body; exit 1 with the status line unless 200
//   guestbench httpget IP PORT PATH COUNT
//                                     COUNT HTTP/1.1 GETs of PATH, one TCP connection each (as a
//                                     metadata client does); requests/s, median and max latency
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int die(const char* what) {
    perror(what);
    return 1;
}

static int compare_double(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

// One GET on a new connection; reads the headers, then Content-Length bytes of body (the server
// may keep the connection open). Returns the body length, or -1; `buf` holds the answer.
static long http_get(const struct sockaddr_in* addr, const char* path, const char* header,
                     char* buf, size_t cap) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (const struct sockaddr*)addr, sizeof *addr) != 0) return -1;
    char req[512];
    int len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: bench\r\n%s%s\r\n", path,
                       header ? header : "Accept: */*", "\r\n");
    if (write(fd, req, (size_t)len) != len) return close(fd), -1;
    size_t got = 0;
    long body = -1;
    char* end = NULL;
    while (got < cap - 1) {
        ssize_t n = read(fd, buf + got, cap - 1 - got);
        if (n <= 0) break;
        got += (size_t)n;
        buf[got] = 0;
        if (!end && (end = strstr(buf, "\r\n\r\n"))) {
            const char* cl = strcasestr(buf, "content-length:");
            body = cl ? atol(cl + 15) : 0;
        }
        if (end && got >= (size_t)(end + 4 - buf) + (size_t)body) break;
    }
    close(fd);
    return end && strncmp(buf, "HTTP/1.", 7) == 0 && strncmp(buf + 8, " 200", 4) == 0 ? body : -1;
}

static int httpget(const char* ip, const char* port, const char* path, long count) {
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    inet_pton(AF_INET, ip, &addr.sin_addr);
    static char buf[1 << 16];
    double* lat = calloc((size_t)count, sizeof(double));
    if (!lat) return die("calloc");
    double t0 = now_s();
    for (long i = 0; i < count; ++i) {
        double s = now_s();
        if (http_get(&addr, path, NULL, buf, sizeof buf) < 0) {
            fprintf(stderr, "GET %s failed at request %ld\n", path, i);
            return 1;
        }
        lat[i] = now_s() - s;
    }
    double t = now_s() - t0;
    qsort(lat, (size_t)count, sizeof(double), compare_double);
    printf("BENCH http_req_per_s=%.0f http_p50_us=%.0f http_max_us=%.0f\n", (double)count / t,
           lat[count / 2] * 1e6, lat[count - 1] * 1e6);
    free(lat);
    return 0;
}

static int http_once(const char* ip, const char* port, const char* path, const char* header) {
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    inet_pton(AF_INET, ip, &addr.sin_addr);
    static char buf[1 << 16];
    buf[0] = 0;
    long body = http_get(&addr, path, header && *header ? header : NULL, buf, sizeof buf);
    char* start = strstr(buf, "\r\n\r\n");
    if (body < 0 || !start) {
        char* eol = strstr(buf, "\r\n");
        if (eol) *eol = 0;
        printf("%s\n", buf[0] ? buf : "no answer");
        return 1;
    }
    fwrite(start + 4, 1, (size_t)body, stdout);
    return 0;
}

// One randread thread: its own buffer and generator, reading until the shared deadline.
struct reader {
    int fd;
    uint64_t blocks;
    uint64_t seed;
    double deadline;
    uint64_t ops;
    int failed;
};

static void* random_reads(void* arg) {
    struct reader* r = arg;
    void* buf = NULL;
    if (posix_memalign(&buf, 4096, 4096) != 0) {
        r->failed = 1;
        return NULL;
    }
    uint64_t x = r->seed;
    do {
        for (int i = 0; i < 64; ++i, ++r->ops) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            if (pread(r->fd, buf, 4096, (off_t)((x % r->blocks) * 4096)) != 4096) {
                r->failed = 1;
                return NULL;
            }
        }
    } while (now_s() < r->deadline);
    free(buf);
    return NULL;
}

int main(int argc, char** argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: see the source\n");
        return 2;
    }
    const size_t mib = 1 << 20;
    void* buf = NULL;
    if (posix_memalign(&buf, 4096, mib) != 0) return die("posix_memalign");
    memset(buf, 0x5a, mib);
    const char* mode = argv[1];
    if (strcmp(mode, "http") == 0)
        return http_once(argv[2], argv[3], argv[4], argc > 5 ? argv[5] : NULL);
    if (strcmp(mode, "httpget") == 0) {
        if (argc < 6) return 2;
        return httpget(argv[2], argv[3], argv[4], atol(argv[5]));
    }
    if (strcmp(mode, "tcprecv") == 0) {
        if (argc < 5) return 2;
        const long long total = atoll(argv[4]) * (long long)mib;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in addr = {.sin_family = AF_INET,
                                   .sin_port = htons((uint16_t)atoi(argv[3]))};
        inet_pton(AF_INET, argv[2], &addr.sin_addr);
        double t0 = now_s();
        if (connect(fd, (struct sockaddr*)&addr, sizeof addr) != 0) return die("connect");
        long long got = 0;
        while (got < total) {
            ssize_t n = read(fd, buf, mib);
            if (n < 0) return die("read");
            if (n == 0) break;
            got += n;
        }
        double t = now_s() - t0;
        close(fd);
        if (got < total) {
            fprintf(stderr, "tcprecv: %lld of %lld bytes\n", got, total);
            return 1;
        }
        printf("BENCH tcp_recv_mibps=%.1f\n", (double)total / (double)mib / t);
        return 0;
    }
    if (strcmp(mode, "tcpsend") == 0) {
        if (argc < 5) return 2;
        long total = atol(argv[4]);
        int src = -1;
        if (argc > 5 && (src = open(argv[5], O_RDONLY)) < 0) return die("open");
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in addr = {.sin_family = AF_INET,
                                   .sin_port = htons((uint16_t)atoi(argv[3]))};
        inet_pton(AF_INET, argv[2], &addr.sin_addr);
        if (connect(fd, (struct sockaddr*)&addr, sizeof addr) != 0) return die("connect");
        double t0 = now_s();
        for (long i = 0; i < total; ++i) {
            if (src >= 0 && pread(src, buf, mib, (off_t)i * (off_t)mib) != (ssize_t)mib) {
                return die("read");
            }
            size_t done = 0;
            while (done < mib) {
                ssize_t n = write(fd, (char*)buf + done, mib - done);
                if (n <= 0) return die("write");
                done += (size_t)n;
            }
        }
        if (argc > 6 && strcmp(argv[6], "nowait") == 0) {
            printf("BENCH tcp_send_written_mib=%ld\n", total);
            fflush(stdout);
            return 0;
        }
        shutdown(fd, SHUT_WR);
        char c;
        while (read(fd, &c, 1) > 0) {
        }
        double t = now_s() - t0;
        printf("BENCH tcp_send_mibps=%.1f\n", (double)total / t);
        return 0;
    }
    int fd = open(argv[2], (strcmp(mode, "seqwrite") == 0 ? O_WRONLY : O_RDONLY) | O_DIRECT);
    if (fd < 0) return die("open");
    if (strcmp(mode, "seqwrite") == 0 || strcmp(mode, "seqread") == 0) {
        long total = atol(argv[3]);
        int writing = mode[3] == 'w';
        double t0 = now_s();
        for (long i = 0; i < total; ++i) {
            ssize_t n = writing ? pwrite(fd, buf, mib, (off_t)i * (off_t)mib)
                                : pread(fd, buf, mib, (off_t)i * (off_t)mib);
            if (n != (ssize_t)mib) return die(writing ? "pwrite" : "pread");
        }
        if (writing && fsync(fd) != 0) return die("fsync");
        double t = now_s() - t0;
        printf("BENCH seq_%s_mibps=%.1f\n", writing ? "write" : "read", (double)total / t);
        return 0;
    }
    if (strcmp(mode, "randread") == 0) {
        uint64_t size = 0;
        if (ioctl(fd, BLKGETSIZE64, &size) != 0) return die("BLKGETSIZE64");
        const int depth = argc > 4 ? atoi(argv[4]) : 1;
        if (depth < 1 || depth > 64) return 2;
        struct reader readers[64];
        pthread_t threads[64];
        const double t0 = now_s();
        for (int i = 0; i < depth; ++i) {
            readers[i] = (struct reader){.fd = fd,
                                         .blocks = size / 4096,
                                         .seed = 88172645463325252ull + 7919ull * (uint64_t)i,
                                         .deadline = t0 + atof(argv[3])};
            if (pthread_create(&threads[i], NULL, random_reads, &readers[i]) != 0) {
                return die("pthread_create");
            }
        }
        uint64_t ops = 0;
        for (int i = 0; i < depth; ++i) {
            pthread_join(threads[i], NULL);
            if (readers[i].failed) return die("pread");
            ops += readers[i].ops;
        }
        const double t = now_s() - t0;
        if (depth == 1) {
            printf("BENCH rand_read_4k_iops=%.0f\n", (double)ops / t);
        } else {
            printf("BENCH rand_read_4k_qd%d_iops=%.0f\n", depth, (double)ops / t);
        }
        return 0;
    }
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
}
