// boot-timer-signal: tells the monitor's boot-timer device that the guest reached userspace.
//
// Writes one byte (default 123) at guest physical address 0xC0000000 (Firecracker's
// BOOT_DEVICE_MEM_START) through /dev/mem, as Firecracker's own guest init does. The monitor
// logs the time since InstanceStart when it sees that write.
//
// Without the device (Ember without --boot-timer, QEMU) the MMIO write lands on nothing and is
// dropped: it cannot block. The one real danger is a guest whose RAM covers the address (a large
// QEMU guest): writing there would corrupt memory, so the helper checks /proc/iomem first and
// skips the write when the address is System RAM.
//
// Usage: boot-timer-signal [ADDRESS [VALUE]]   (numbers in C notation, e.g. 0xC0000000 123)
// Exit status: 0 written, 2 skipped (address is RAM), 1 error. Never blocks.
// Built with: gcc -static -Os boot-timer-signal.c
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int parse_u64(const char* text, uint64_t* out) {
    char* end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 0);
    if (errno != 0 || end == text || *end != '\0') return -1;
    *out = (uint64_t)value;
    return 0;
}

// 1 if ADDRESS lies in a top-level "System RAM" range of /proc/iomem, 0 if not, -1 if unknown.
static int address_is_ram(uint64_t address) {
    FILE* iomem = fopen("/proc/iomem", "re");
    if (iomem == NULL) return -1;
    char line[256];
    int result = 0;
    while (fgets(line, sizeof line, iomem) != NULL) {
        if (line[0] == ' ') continue;  // nested resources
        uint64_t first = 0;
        uint64_t last = 0;
        int name_at = 0;
        if (sscanf(line, "%" SCNx64 "-%" SCNx64 " : %n", &first, &last, &name_at) < 2) continue;
        if (first == 0 && last == 0) {  // addresses hidden: not root
            result = -1;
            break;
        }
        if (address >= first && address <= last && strncmp(line + name_at, "System RAM", 10) == 0) {
            result = 1;
            break;
        }
    }
    fclose(iomem);
    return result;
}

int main(int argc, char** argv) {
    uint64_t address = 0xC0000000u;
    uint64_t value = 123;
    if (argc > 3 || (argc > 1 && parse_u64(argv[1], &address) != 0) ||
        (argc > 2 && (parse_u64(argv[2], &value) != 0 || value > 0xff))) {
        fprintf(stderr, "usage: %s [ADDRESS [VALUE(0-255)]]\n", argv[0]);
        return 1;
    }

    int ram = address_is_ram(address);
    if (ram == 1) {
        fprintf(stderr, "boot-timer-signal: 0x%" PRIx64 " is System RAM here; not writing\n", address);
        return 2;
    }
    if (ram < 0) fprintf(stderr, "boot-timer-signal: cannot read /proc/iomem; writing anyway\n");

    long page_size = sysconf(_SC_PAGESIZE);
    if (page_size <= 0) page_size = 4096;
    uint64_t page = address & ~(uint64_t)(page_size - 1);

    int fd = open("/dev/mem", O_RDWR | O_SYNC | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "boot-timer-signal: open /dev/mem: %s\n", strerror(errno));
        return 1;
    }
    void* map = mmap(NULL, (size_t)page_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)page);
    close(fd);
    if (map == MAP_FAILED) {
        fprintf(stderr, "boot-timer-signal: mmap /dev/mem at 0x%" PRIx64 ": %s\n", page, strerror(errno));
        return 1;
    }
    volatile uint8_t* target = (volatile uint8_t*)map + (address - page);
    *target = (uint8_t)value;
    munmap(map, (size_t)page_size);
    return 0;
}
