/* placeholder until written */
typedef int ep_placeholder_csv;
