import { render } from "preact";

render(<p>edge-chat</p>, document.getElementById("app")!);
