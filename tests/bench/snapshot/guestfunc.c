// guestfunc: a stand-in for a serverless function, run inside the guest by the clone benchmarks
// and tests. Usage: guestfunc ANON_MIB FILE [FILE_MIB]
// Setup (before the snapshot): fills ANON_MIB MiB of anonymous memory, reads the first FILE_MIB
// MiB (default: all) of FILE into the page cache, prints "FUNC READY" and waits for requests, one
// line each on stdin (the serial console). Each request touches the whole working set as a warm
// function does: reads every page of the anonymous memory and writes one word in each (so a
// restored clone copies them), reads the file again, and prints
//   ANSWER <n> <request> <checksum> <us spent in the guest>
// EOF on stdin ends it. Built static by the test scripts: gcc -static -O2 guestfunc.c.
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

// Reads up to `limit` bytes of `path` and returns their checksum.
static uint64_t read_file(const char* path, size_t limit) {
    static char buf[1 << 16];
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        perror(path);
        exit(1);
    }
    uint64_t sum = 0;
    size_t total = 0;
    while (total < limit) {
        size_t want = limit - total < sizeof(buf) ? limit - total : sizeof(buf);
        ssize_t n = read(fd, buf, want);
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; i += 512) sum += (unsigned char)buf[i];
        total += (size_t)n;
    }
    close(fd);
    return sum;
}

int main(int argc, char** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: guestfunc ANON_MIB FILE [FILE_MIB]\n");
        return 2;
    }
    size_t anon = (size_t)strtoul(argv[1], NULL, 10) << 20;
    const char* file = argv[2];
    size_t file_limit = argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) << 20 : (size_t)-1;
    const size_t page = 4096;
    uint8_t* mem =
        anon ? mmap(NULL, anon, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : NULL;
    if (mem == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    for (size_t i = 0; i < anon; i += 8) *(uint64_t*)(mem + i) = i * 0x9e3779b97f4a7c15ull;
    read_file(file, file_limit);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("FUNC READY\n");

    char line[256];
    for (unsigned long n = 1; fgets(line, sizeof(line), stdin); ++n) {
        line[strcspn(line, "\r\n")] = '\0';
        uint64_t start = now_us();
        uint64_t sum = 0;
        for (size_t i = 0; i < anon; i += page) {
            for (size_t j = 0; j < page; j += 256) sum += *(uint64_t*)(mem + i + j);
            *(uint64_t*)(mem + i) += n;
        }
        sum += read_file(file, file_limit);
        printf("ANSWER %lu %s %llu %llu\n", n, line, (unsigned long long)sum,
               (unsigned long long)(now_us() - start));
    }
    return 0;
}
