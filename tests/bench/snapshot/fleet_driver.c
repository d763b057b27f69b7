// fleet_driver: the timing-critical part of the clone fleet benchmark (fleet_bench.sh), in C so
// that no client process start (curl takes most of a second under nested TCG) is timed.
//
//   fleet_driver api SOCK METHOD PATH [BODY]
//       One HTTP request on a Unix socket. Prints "<status> sent_us=<epoch us> took_ms=<ms>" and
//       the body on the next line; exit 0 on a 2xx answer.
//   fleet_driver fleet VMM N TIMEOUT_S MEM_MATCH SOCK_TEMPLATE BODY_TEMPLATE -- CMD [ARGS...]
//       Starts N copies of CMD ("{i}" in any argument, the socket and the body becomes the clone
//       index 0..N-1), each with its own stdin pipe holding one request line "req{i}" and its
//       stdout on a pipe read here. With SOCK_TEMPLATE "-" (QEMU -incoming), t0 is the first
//       fork. Otherwise t0 is the moment every clone's API socket has accepted a connection, and
//       PUT /snapshot/load with BODY_TEMPLATE is then written to each at once. Each clone is
//       done when its console shows "ANSWER". Then each clone's /proc/PID/smaps is read:
//       monitor = Private_Clean + Private_Dirty of every mapping whose path does not contain
//       MEM_MATCH; guest = that of the mappings whose path does (for QEMU, MEM_MATCH "-": none,
//       so its whole private memory is "monitor" and is printed as is); guest_anon = the guest
//       mapping's Anonymous pages (MAP_PRIVATE copies: what the guest dirtied). Prints
//         CLONE vmm=V n=N i=I status=S resp_ms=R answer_ms=A monitor_private_kib=..
//               monitor_private_dirty_kib=.. monitor_anon_kib=.. monitor_thp_kib=..
//               guest_private_kib=..
//               guest_anon_kib=.. rss_kib=.. guest_func_us=.. user_ms=.. sys_ms=.. guest_ms=..
//         FLEET vmm=V n=N answered=K all_answer_ms=T first_answer_ms=F all_loaded_ms=L
//       threads: name:user/sys/guest ms of each thread.
//       user/sys/guest_ms: the clone's CPU time so far (guest_ms: of it, running the guest).
//       monitor_anon is the Anonymous part of monitor: what no other process can share (the
//       private rest is file pages only this process maps, e.g. the binary's text when it is
//       the only clone; a tmpfs file's pages count as dirty).
//       and ends every clone (SIGKILL: the benchmark has what it needs).
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { kMaxClones = 256, kBuf = 8192 };

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

// `tmpl` with every "{i}" replaced by `i`, in a new string.
static char* subst(const char* tmpl, int i) {
    char num[16];
    snprintf(num, sizeof num, "%d", i);
    size_t cap = strlen(tmpl) * 2 + 64, len = 0;
    char* out = malloc(cap);
    for (const char* p = tmpl; *p;) {
        if (strncmp(p, "{i}", 3) == 0) {
            size_t n = strlen(num);
            if (len + n + 1 >= cap) out = realloc(out, cap *= 2);
            memcpy(out + len, num, n);
            len += n;
            p += 3;
        } else {
            if (len + 2 >= cap) out = realloc(out, cap *= 2);
            out[len++] = *p++;
        }
    }
    out[len] = '\0';
    return out;
}

static int connect_unix(const char* path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    if (connect(fd, (struct sockaddr*)&addr, sizeof addr) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static char* http_request(const char* method, const char* path, const char* body) {
    size_t blen = body ? strlen(body) : 0;
    char* req = malloc(blen + 512);
    int n = sprintf(req,
                    "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
                    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                    method, path, blen);
    if (body) memcpy(req + n, body, blen + 1);
    return req;
}

static int write_all(int fd, const char* data, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

// The status of a complete HTTP response in buf (0 if not complete yet). Answers are small and
// have a Content-Length (Ember's) or none (204).
static int response_status(const char* buf, size_t len, const char** body) {
    const char* end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end) return 0;
    size_t head = (size_t)(end - buf) + 4;
    size_t content = 0;
    const char* cl = strcasestr(buf, "Content-Length:");
    if (cl && cl < end) content = strtoul(cl + 15, NULL, 10);
    if (len < head + content) return 0;
    if (body) *body = buf + head;
    return atoi(buf + 9);
}

static int cmd_api(int argc, char** argv) {
    if (argc < 5) return 2;
    char* req = http_request(argv[3], argv[4], argc > 5 ? argv[5] : NULL);
    int fd = connect_unix(argv[2]);
    if (fd < 0) {
        printf("connect-failed sent_us=0 took_ms=0\n%s\n", strerror(errno));
        return 1;
    }
    static char buf[1 << 16];
    size_t len = 0;
    int64_t t0 = now_us();
    if (write_all(fd, req, strlen(req)) < 0) return 1;
    int status = 0;
    const char* body = "";
    while (len < sizeof buf - 1) {
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n <= 0) break;
        len += (size_t)n;
        buf[len] = '\0';
        if ((status = response_status(buf, len, &body))) break;
    }
    printf("%d sent_us=%lld took_ms=%lld\n%s\n", status, (long long)t0,
           (long long)(now_us() - t0) / 1000, body);
    return status >= 200 && status < 300 ? 0 : 1;
}

struct Clone {
    pid_t pid;
    int in_w, out_r, api;
    char out[kBuf];
    size_t out_len;
    char resp[kBuf];
    size_t resp_len;
    int status;
    int64_t resp_us, answer_us;
    long guest_us;  // The function's own time, as the guest reports it.
};

struct Mem {
    long monitor, monitor_dirty, monitor_anon, monitor_thp, guest, guest_anon, rss;
};

static struct Mem read_smaps(pid_t pid, const char* match) {
    struct Mem m = {0};
    char path[64], line[4096];
    snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
    FILE* f = fopen(path, "r");
    if (!f) return m;
    int guest = 0;
    while (fgets(line, sizeof line, f)) {
        long kib;
        char* dash = strchr(line, '-');
        if (dash && dash < strchr(line, ' ') && strchr(line, ' ')) {
            // A mapping header: "start-end perms offset dev inode [path]".
            guest = strcmp(match, "-") != 0 && strstr(line, match) != NULL;
            continue;
        }
        if (sscanf(line, "Rss: %ld", &kib) == 1) {
            m.rss += kib;
        } else if (sscanf(line, "Private_Clean: %ld", &kib) == 1 ||
                   sscanf(line, "Private_Dirty: %ld", &kib) == 1) {
            if (guest) {
                m.guest += kib;
            } else {
                m.monitor += kib;
                if (line[8] == 'D') m.monitor_dirty += kib;
            }
        } else if (sscanf(line, "AnonHugePages: %ld", &kib) == 1) {
            if (!guest) m.monitor_thp += kib;
        } else if (sscanf(line, "Anonymous: %ld", &kib) == 1) {
            if (guest) {
                m.guest_anon += kib;
            } else {
                m.monitor_anon += kib;
            }
        }
    }
    fclose(f);
    return m;
}

// The process's CPU time (user, system, of it running the guest) in ms, from /proc/PID/stat.
static void read_cpu_at(const char* proc_path, long* user_ms, long* sys_ms, long* guest_ms) {
    char path[420], buf[2048];
    *user_ms = *sys_ms = *guest_ms = -1;
    snprintf(path, sizeof path, "/proc/%s/stat", proc_path);
    FILE* f = fopen(path, "r");
    if (!f) return;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    char* p = strrchr(buf, ')');  // The command name may hold spaces.
    if (!p) return;
    long tick_ms = 1000 / sysconf(_SC_CLK_TCK);
    // Fields from 3 (state) on; utime is 14, stime 15, guest_time 43.
    char* save = NULL;
    int field = 3;
    for (char* w = strtok_r(p + 2, " ", &save); w; w = strtok_r(NULL, " ", &save), ++field) {
        if (field == 14) *user_ms = atol(w) * tick_ms;
        if (field == 15) *sys_ms = atol(w) * tick_ms;
        if (field == 43) *guest_ms = atol(w) * tick_ms;
    }
}

static void read_cpu(pid_t pid, long* user_ms, long* sys_ms, long* guest_ms) {
    char path[32];
    snprintf(path, sizeof path, "%d", (int)pid);
    read_cpu_at(path, user_ms, sys_ms, guest_ms);
}

// "name:user/sys/guest ms" for every thread of `pid`, into out.
static void thread_cpu(pid_t pid, char* out, size_t size) {
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
    out[0] = '\0';
    DIR* d = opendir(dir);
    if (!d) return;
    size_t len = 0;
    for (struct dirent* e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char path[400], comm[32] = "?";
        snprintf(path, sizeof path, "%s/%s/comm", dir, e->d_name);
        FILE* f = fopen(path, "r");
        if (f) {
            if (fgets(comm, sizeof comm, f)) comm[strcspn(comm, "\n")] = '\0';
            fclose(f);
        }
        for (char* c = comm; *c; ++c) {
            if (*c == ' ') *c = '_';
        }
        long user_ms, sys_ms, guest_ms;
        snprintf(path, sizeof path, "%d/task/%s", (int)pid, e->d_name);
        read_cpu_at(path, &user_ms, &sys_ms, &guest_ms);
        int n = snprintf(out + len, size - len, "%s%s:%ld/%ld/%ld", len ? "," : "", comm, user_ms,
                         sys_ms, guest_ms);
        if (n < 0 || (size_t)n >= size - len) break;
        len += (size_t)n;
    }
    closedir(d);
}

static int cmd_fleet(int argc, char** argv) {
    if (argc < 10 || strcmp(argv[8], "--") != 0) return 2;
    const char* vmm = argv[2];
    int n = atoi(argv[3]);
    int timeout_s = atoi(argv[4]);
    const char* match = argv[5];
    const char* sock_tmpl = argv[6];
    const char* body_tmpl = argv[7];
    char** cmd = argv + 9;
    int cmd_argc = argc - 9;
    int api_mode = strcmp(sock_tmpl, "-") != 0;
    if (n < 1 || n > kMaxClones) return 2;
    static struct Clone c[kMaxClones];
    signal(SIGPIPE, SIG_IGN);

    int64_t t0 = 0, deadline = now_us() + (int64_t)timeout_s * 1000000;
    for (int i = 0; i < n; ++i) {
        int in[2], out[2];
        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) return 1;
        char line[32];
        int len = snprintf(line, sizeof line, "req%d\n", i);
        if (write_all(in[1], line, (size_t)len) < 0) return 1;
        char** args = calloc((size_t)cmd_argc + 1, sizeof(char*));
        for (int a = 0; a < cmd_argc; ++a) args[a] = subst(cmd[a], i);
        char err_path[64];
        snprintf(err_path, sizeof err_path, "fleet-%s-%d.stderr", vmm, i);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (api_mode) {
            char* sock = subst(sock_tmpl, i);
            unlink(sock);
            free(sock);
        }
        if (i == 0 && !api_mode) t0 = now_us();
        pid_t pid = fork();
        if (pid == 0) {
            dup2(in[0], 0);
            dup2(out[1], 1);
            if (err >= 0) dup2(err, 2);
            execvp(args[0], args);
            _exit(127);
        }
        for (int a = 0; a < cmd_argc; ++a) free(args[a]);
        free(args);
        close(in[0]);
        close(out[1]);
        if (err >= 0) close(err);
        fcntl(out[0], F_SETFL, O_NONBLOCK);
        c[i] = (struct Clone){.pid = pid, .in_w = in[1], .out_r = out[0], .api = -1};
    }
    if (api_mode) {
        // Every clone's API socket accepts before the first request: the orchestrator's clients
        // are connected, as a warm pool's would be.
        for (int i = 0; i < n; ++i) {
            char* sock = subst(sock_tmpl, i);
            while ((c[i].api = connect_unix(sock)) < 0 && now_us() < deadline) usleep(2000);
            free(sock);
            if (c[i].api < 0) {
                fprintf(stderr, "fleet_driver: clone %d: no API socket\n", i);
                break;
            }
        }
        char** reqs = calloc((size_t)n, sizeof(char*));
        for (int i = 0; i < n; ++i) {
            char* body = subst(body_tmpl, i);
            reqs[i] = http_request("PUT", "/snapshot/load", body);
            free(body);
        }
        t0 = now_us();
        for (int i = 0; i < n; ++i) {
            if (c[i].api >= 0) write_all(c[i].api, reqs[i], strlen(reqs[i]));
        }
        for (int i = 0; i < n; ++i) free(reqs[i]);
        free(reqs);
    }

    int answered = 0;
    int64_t first = 0, last = 0;
    struct pollfd* pfd = calloc((size_t)n * 2, sizeof *pfd);
    while (answered < n && now_us() < deadline) {
        int k = 0;
        for (int i = 0; i < n; ++i) {
            pfd[k++] = (struct pollfd){.fd = c[i].answer_us ? -1 : c[i].out_r, .events = POLLIN};
            pfd[k++] = (struct pollfd){.fd = c[i].status ? -1 : c[i].api, .events = POLLIN};
        }
        if (poll(pfd, (nfds_t)k, 100) < 0 && errno != EINTR) break;
        int64_t t = now_us();
        for (int i = 0; i < n; ++i) {
            if (pfd[2 * i].revents) {
                struct Clone* x = &c[i];
                ssize_t got = read(x->out_r, x->out + x->out_len, kBuf - 1 - x->out_len);
                if (got > 0) {
                    x->out_len += (size_t)got;
                    x->out[x->out_len] = '\0';
                    const char* answer = strstr(x->out, "ANSWER ");
                    // The whole line: the serial port sends it a byte at a time.
                    if (answer && strchr(answer, '\n')) {
                        unsigned long num;
                        char req[64];
                        unsigned long long sum, us;
                        if (sscanf(answer, "ANSWER %lu %63s %llu %llu", &num, req, &sum, &us) ==
                            4) {
                            x->guest_us = (long)us;
                        }
                        x->answer_us = t;
                        if (!first) first = t;
                        last = t;
                        ++answered;
                    } else if (x->out_len > kBuf / 2) {
                        // Keep the tail: a line may straddle the cut.
                        memmove(x->out, x->out + x->out_len - 256, 256);
                        x->out_len = 256;
                    }
                } else if (got == 0) {
                    x->answer_us = -1;  // The clone ended without answering.
                    ++answered;
                }
            }
            if (pfd[2 * i + 1].revents) {
                struct Clone* x = &c[i];
                ssize_t got = read(x->api, x->resp + x->resp_len, kBuf - 1 - x->resp_len);
                if (got > 0) {
                    x->resp_len += (size_t)got;
                    x->resp[x->resp_len] = '\0';
                    if ((x->status = response_status(x->resp, x->resp_len, NULL))) x->resp_us = t;
                } else {
                    x->status = -1;
                }
            }
        }
    }
    int ok = 0;
    int64_t all_loaded = 0;
    for (int i = 0; i < n; ++i) {
        if (c[i].status == 204 && c[i].resp_us > all_loaded) all_loaded = c[i].resp_us;
        struct Mem m = read_smaps(c[i].pid, match);
        long user_ms, sys_ms, guest_ms;
        read_cpu(c[i].pid, &user_ms, &sys_ms, &guest_ms);
        char threads[1024];
        thread_cpu(c[i].pid, threads, sizeof threads);
        if (c[i].answer_us > 0) ++ok;
        printf(
            "CLONE vmm=%s n=%d i=%d status=%d resp_ms=%lld answer_ms=%lld "
            "monitor_private_kib=%ld monitor_private_dirty_kib=%ld monitor_anon_kib=%ld "
            "monitor_thp_kib=%ld "
            "guest_private_kib=%ld guest_anon_kib=%ld rss_kib=%ld guest_func_us=%ld "
            "user_ms=%ld sys_ms=%ld guest_ms=%ld threads=%s\n",
            vmm, n, i, api_mode ? c[i].status : 0,
            c[i].resp_us ? (long long)(c[i].resp_us - t0) / 1000 : -1LL,
            c[i].answer_us > 0 ? (long long)(c[i].answer_us - t0) / 1000 : -1LL, m.monitor,
            m.monitor_dirty, m.monitor_anon, m.monitor_thp, m.guest, m.guest_anon, m.rss,
            c[i].guest_us, user_ms, sys_ms, guest_ms, threads);
        if (c[i].answer_us <= 0) {
            printf("    clone %d console tail: %.300s\n", i,
                   c[i].out_len > 300 ? c[i].out + c[i].out_len - 300 : c[i].out);
            if (c[i].resp_len) printf("    clone %d API answer: %.300s\n", i, c[i].resp);
            int wstatus = 0;
            pid_t ended = waitpid(c[i].pid, &wstatus, WNOHANG);
            printf("    clone %d process: %s (status %#x)\n", i,
                   ended == c[i].pid ? "ended" : "running", wstatus);
            char err_path[64], err[1024] = "";
            snprintf(err_path, sizeof err_path, "fleet-%s-%d.stderr", vmm, i);
            FILE* f = fopen(err_path, "r");
            if (f) {
                fseek(f, 0, SEEK_END);
                long size = ftell(f);
                fseek(f, size > 1000 ? size - 1000 : 0, SEEK_SET);
                size_t got = fread(err, 1, sizeof err - 1, f);
                err[got] = '\0';
                fclose(f);
            }
            printf("    clone %d stderr tail: %s\n", i, err);
        }
    }
    printf(
        "FLEET vmm=%s n=%d answered=%d all_answer_ms=%lld first_answer_ms=%lld "
        "all_loaded_ms=%lld\n",
        vmm, n, ok, ok == n ? (long long)(last - t0) / 1000 : -1LL,
        first ? (long long)(first - t0) / 1000 : -1LL,
        all_loaded ? (long long)(all_loaded - t0) / 1000 : -1LL);
    fflush(stdout);
    for (int i = 0; i < n; ++i) kill(c[i].pid, SIGKILL);
    for (int i = 0; i < n; ++i) waitpid(c[i].pid, NULL, 0);
    return ok == n ? 0 : 1;
}

int main(int argc, char** argv) {
    if (argc > 1 && strcmp(argv[1], "api") == 0) return cmd_api(argc, argv);
    if (argc > 1 && strcmp(argv[1], "fleet") == 0) return cmd_fleet(argc, argv);
    fprintf(stderr,
            "usage: fleet_driver api SOCK METHOD PATH [BODY]\n"
            "       fleet_driver fleet VMM N TIMEOUT_S MEM_MATCH SOCK_TEMPLATE BODY_TEMPLATE "
            "-- CMD...\n");
    return 2;
}
