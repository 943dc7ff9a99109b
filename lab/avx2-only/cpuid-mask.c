/*
 * Loaded by lab/avx2-only.ts (LD_AUDIT). In the library copies that script makes, every `cpuid`
 * instruction (0f a2) was replaced by `int3; nop` (cc 90). This handler answers those traps with
 * the real cpuid, minus the AVX-512, VNNI and AMX feature bits (and the AVX-512 register state in
 * leaf 0xd), as Firecracker's T2 CPU template presents a newer host to x86 Lambda functions. The
 * libraries then dispatch to the kernels an AVX2-only CPU runs, natively on this core.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <dlfcn.h>
#include <link.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#define BIT(n) (1u << (n))

/* The SIGTRAP disposition the program set (sigaction below keeps ours in place). */
static struct sigaction program_action;

static void on_trap(int sig, siginfo_t *info, void *context) {
  ucontext_t *uc = context;
  greg_t *r = uc->uc_mcontext.gregs;
  const uint8_t *ip = (const uint8_t *)r[REG_RIP];
  if (ip[-1] != 0xcc || ip[0] != 0x90) { /* not a patched cpuid: what the program asked for */
    if (program_action.sa_flags & SA_SIGINFO) program_action.sa_sigaction(sig, info, context);
    else if (program_action.sa_handler != SIG_DFL && program_action.sa_handler != SIG_IGN)
      program_action.sa_handler(sig);
    else {
      signal(sig, SIG_DFL);
      raise(sig);
    }
    return;
  }
  unsigned leaf = (unsigned)r[REG_RAX], sub = (unsigned)r[REG_RCX], a, b, c, d;
  __cpuid_count(leaf, sub, a, b, c, d);
  if (leaf == 7 && sub == 0) {
    /* avx512 f dq ifma pf er cd bw vl */
    b &= ~(BIT(16) | BIT(17) | BIT(21) | BIT(26) | BIT(27) | BIT(28) | BIT(30) | BIT(31));
    /* avx512 vbmi vbmi2 vnni bitalg vpopcntdq */
    c &= ~(BIT(1) | BIT(6) | BIT(11) | BIT(12) | BIT(14));
    /* avx512 4vnniw 4fmaps vp2intersect, amx-bf16, avx512-fp16, amx-tile, amx-int8 */
    d &= ~(BIT(2) | BIT(3) | BIT(8) | BIT(22) | BIT(23) | BIT(24) | BIT(25));
  } else if (leaf == 7 && sub == 1) {
    a &= ~(BIT(4) | BIT(5) | BIT(23)); /* avx-vnni, avx512-bf16, avx-ifma */
    d &= ~(BIT(4) | BIT(5) | BIT(10)); /* avx-vnni-int8, avx-ne-convert, avx-vnni-int16 */
  } else if (leaf == 0xd && sub == 0) {
    a &= ~(BIT(5) | BIT(6) | BIT(7) | BIT(17) | BIT(18)); /* opmask, ZMM state; AMX tile state */
  }
  r[REG_RAX] = a;
  r[REG_RBX] = b;
  r[REG_RCX] = c;
  r[REG_RDX] = d;
  r[REG_RIP] += 1; /* past the nop */
}

__attribute__((constructor)) static void install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_trap;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGTRAP, &sa, 0);
}

/*
 * Loaded as an audit module (LD_AUDIT): its constructor runs before any other library's, and
 * la_objsearch sends the loader to the patched copies (AVX2_ONLY_LIBS: "soname=path;soname=path")
 * when a program asks for those sonames, so other programs (Chromium, say) never load them.
 */
static char table[4096];
static const char *sonames[8], *paths[8];
static int redirect_count;

unsigned int la_version(unsigned int version) {
  const char *libs = getenv("AVX2_ONLY_LIBS");
  if (libs && strlen(libs) < sizeof table) {
    strcpy(table, libs);
    for (char *entry = strtok(table, ";"); entry && redirect_count < 8; entry = strtok(0, ";")) {
      char *equals = strchr(entry, '=');
      if (!equals) continue;
      *equals = 0;
      sonames[redirect_count] = entry;
      paths[redirect_count++] = equals + 1;
    }
  }
  return version;
}

char *la_objsearch(const char *name, uintptr_t *cookie, unsigned int flag) {
  (void)cookie;
  if (flag == LA_SER_ORIG)
    for (int i = 0; i < redirect_count; i++)
      if (!strcmp(name, sonames[i])) return (char *)paths[i];
  return (char *)name;
}

/*
 * Also preloaded (LD_PRELOAD), to keep the handler working whatever the program does:
 * - a trap raised while SIGTRAP is blocked kills the process whatever the handler, and some threads
 *   block every signal (Node's worker threads, and the thread pools they start): no thread may
 *   block SIGTRAP;
 * - Node's signal-exit and libuv take SIGTRAP for themselves (`process.on('SIGTRAP')`) and put back
 *   the default when done: the program's SIGTRAP disposition is recorded and called for traps that
 *   are not ours, and ours stays installed.
 */
int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  static int (*real)(int, const struct sigaction *, struct sigaction *);
  if (!real) real = (int (*)(int, const struct sigaction *, struct sigaction *))dlsym(RTLD_NEXT, "sigaction");
  if (sig != SIGTRAP || (act && act->sa_sigaction == on_trap)) return real(sig, act, old);
  if (old) *old = program_action;
  if (act) program_action = *act;
  return 0;
}

typedef int (*mask_fn)(int, const sigset_t *, sigset_t *);

/* Calls the C library's `name` (pthread_sigmask or sigprocmask) with SIGTRAP taken out of `set`. */
static int without_trap(const char *name, mask_fn *real, int how, const sigset_t *set, sigset_t *old) {
  if (!*real) *real = (mask_fn)dlsym(RTLD_NEXT, name);
  sigset_t copy;
  if (set && how != SIG_UNBLOCK && sigismember(set, SIGTRAP)) {
    copy = *set;
    sigdelset(&copy, SIGTRAP);
    set = &copy;
  }
  return (*real)(how, set, old);
}

int pthread_sigmask(int how, const sigset_t *set, sigset_t *old) {
  static mask_fn real;
  return without_trap("pthread_sigmask", &real, how, set, old);
}

int sigprocmask(int how, const sigset_t *set, sigset_t *old) {
  static mask_fn real;
  return without_trap("sigprocmask", &real, how, set, old);
}
