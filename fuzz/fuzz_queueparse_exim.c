/* fuzz_queueparse_exim.c - libFuzzer target for the exim -bp parser
 * (queueparse_exim.c), the qshape grid and the doctor queue report; the checks are in
 * fuzz_queueparse_common.h.  Seeds: listings of a sample queue in this format. */
#define QP_FUZZ_FORMAT QF_EXIM
#include "fuzz_queueparse_common.h"
