/* Engine probe: with no argument, wait for a signal; with any argument, exit 0. */
#include <signal.h>
#include <unistd.h>

static void stop(int sig) { (void)sig; _exit(0); }

int main(int argc, char **argv) {
    (void)argv;
    if (argc > 1) return 0;
    signal(SIGTERM, stop);
    signal(SIGINT, stop);
    for (;;) pause();
}
