/* placeholder until written */
typedef int ep_placeholder_parse_azure;
