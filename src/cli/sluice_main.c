/* sluice_main.c - placeholder entry point until the CLI lands. */
#include <stdio.h>
int main(void)
{
    fprintf(stderr, "sluice: not built yet\n");
    return 1;
}
