/* sluiced_main.c - placeholder entry point until the daemon lands. */
#include <stdio.h>
int main(void)
{
    fprintf(stderr, "sluiced: not built yet\n");
    return 1;
}
