using System.Runtime.CompilerServices;

// The evaluation tests check the internal pieces (ROC reconstruction) against plain transcriptions.
[assembly: InternalsVisibleTo("FastReid.Core.Tests")]
