"""Stage `theory_report`: Theorem 5.1's lower bound against a Monte-Carlo estimate on a grid."""
