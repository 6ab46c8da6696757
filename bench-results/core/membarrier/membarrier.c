/* What an asymmetric fence would cost a publish: MEMBARRIER_CMD_PRIVATE_EXPEDITED, alone and
 * while another thread of the process runs on the other vCPU. Build and run:
 *   gcc -O2 membarrier.c -o membarrier -lpthread && ./membarrier
 * Results: results.txt next to this file. */
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdio.h>
#include <time.h>
#include <pthread.h>
static volatile int stop = 0;
static void* spin(void* a) { while (!stop) { __asm__ volatile("" ::: "memory"); } return 0; }
static double now() { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec*1e9 + t.tv_nsec; }
int main() {
  int q = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  printf("query %x\n", q);
  printf("register %d\n", (int)syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0));
  int n = 20000;
  double t = now();
  for (int i = 0; i < n; i++) syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
  printf("alone: %.0f ns\n", (now()-t)/n);
  pthread_t th; pthread_create(&th, 0, spin, 0);
  usleep(10000);
  t = now();
  for (int i = 0; i < n; i++) syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
  printf("with a spinning thread: %.0f ns\n", (now()-t)/n);
  stop = 1; pthread_join(th, 0);
}
