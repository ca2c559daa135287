/*
 * bench/busy.c - one competing CPU-bound process for bench/run's loaded mode.
 *
 *     busy SECONDS
 *
 * Spins (a plain arithmetic loop, no memory traffic to speak of, no system calls) until it is
 * killed - bench/run kills the process group of its busy processes after each measured run -
 * or until SECONDS have passed, whichever comes first: the time limit (SIGALRM, default action:
 * terminate) and PR_SET_PDEATHSIG (SIGKILL when the runner that started it dies) make sure that
 * no busy loop outlives the run it was started for, even when the runner itself is killed.
 * It never forks and never allocates.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2 || atoi(argv[1]) <= 0) {
        fprintf(stderr, "usage: busy SECONDS\n");
        return 2;
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1) return 0; /* the parent died before the line above took effect */
    alarm((unsigned)atoi(argv[1]));
    volatile unsigned long x = 1;
    for (;;) x = x * 6364136223846793005UL + 1442695040888963407UL;
}
