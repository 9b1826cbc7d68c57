// Each request an object serves, and the wall time it is kept busy (billed as duration), for the usage
// meter. Overlapping requests count their shared time once, as Cloudflare bills it.
import { reportUsage } from "../observability/usage";

export class Activity {
  private inFlight = 0;
  private since = 0;

  // Counts one request (an RPC call or an alarm); call the returned function when it is done.
  enter(): () => void {
    reportUsage("do_requests");
    if (this.inFlight++ === 0) this.since = Date.now();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--this.inFlight === 0) reportUsage("do_active_ms", Date.now() - this.since);
    };
  }
}
