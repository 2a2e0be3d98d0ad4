Console.Error.WriteLine("kube-emulator: under construction");
return 1;
