using System.Runtime.CompilerServices;

// The evaluation tests check the internal pieces (ROC reconstruction) against plain transcriptions.
[assembly: InternalsVisibleTo("FastReid.Core.Tests")]
// The evaluation benchmark times the evaluator's own products and neighbour search beside the evaluation.
[assembly: InternalsVisibleTo("FastReid.Bench.Eval")]
