#include <stdio.h>
int main(void){puts("cformer");return 0;}
