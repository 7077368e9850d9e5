// Prints a compiled MuJoCo model's numeric fields as JSON, for scripts/compare_models.py.
//
// Build against the system MuJoCo (Debian's libmujoco-dev 2.2.2):
//     cc -O1 -o mujoco_model_dump scripts/mujoco_model_dump.c -lmujoco
// Usage: mujoco_model_dump MODEL.xml > model.json
//
// Output: {"version": 222, "sizes": {"nq": 6, ...}, "opt": {"timestep": 0.002, ...},
//          "arrays": {"body_mass": [..], ...}} with every numeric mjModel array (from
// mjxmacro.h's MJMODEL_POINTERS) flattened row-major; doubles are printed with %.17g so they
// round-trip exactly.
#include <stdio.h>
#include <stdlib.h>
#include <mujoco/mujoco.h>
#include <mujoco/mjxmacro.h>

static void print_double(double x) {
  if (x != x) printf("NaN");
  else if (x > 1e308) printf("Infinity");
  else if (x < -1e308) printf("-Infinity");
  else printf("%.17g", x);
}

static int first;
static void key(const char* name) {
  printf("%s\"%s\":", first ? "" : ",", name);
  first = 0;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s MODEL.xml\n", argv[0]);
    return 2;
  }
  char error[1000] = "";
  mjModel* m = mj_loadXML(argv[1], NULL, error, sizeof error);
  if (!m) {
    fprintf(stderr, "%s: %s\n", argv[1], error);
    return 1;
  }
  printf("{\"version\":%d,\"sizes\":{", mj_version());
  first = 1;
#define X(name) key(#name); printf("%d", m->name);
  MJMODEL_INTS
#undef X
  printf("},\"opt\":{");
  first = 1;
#define X(type, name) key(#name); print_double((double)m->opt.name);
  MJOPTION_SCALARS
#undef X
#define X(name, n) key(#name); printf("["); \
  for (int i = 0; i < n; i++) { if (i) printf(","); print_double(m->opt.name[i]); } printf("]");
  MJOPTION_VECTORS
#undef X
  printf("},\"arrays\":{");
  first = 1;
  MJMODEL_POINTERS_PREAMBLE(m)
#define X(type, name, nr, nc)                                            \
  if (sizeof(type) != 1 || #type[0] == 'm') {                            \
    key(#name); printf("[");                                             \
    long count = (long)m->nr * (long)(nc);                               \
    for (long i = 0; i < count; i++) {                                   \
      if (i) printf(",");                                                \
      print_double((double)m->name[i]);                                  \
    }                                                                    \
    printf("]");                                                         \
  }
  MJMODEL_POINTERS
#undef X
  printf("}}\n");
  mj_deleteModel(m);
  return 0;
}
