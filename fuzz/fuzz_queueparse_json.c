/* fuzz_queueparse_json.c - libFuzzer target for the JSON listing parser (Postfix's
 * postqueue -j, sluice queue list --json; queueparse.c), the qshape grid and the doctor
 * queue report; the checks are in
 * fuzz_queueparse_common.h.  Seeds: listings of a sample queue in this format. */
#define QP_FUZZ_FORMAT QF_JSON
#include "fuzz_queueparse_common.h"
