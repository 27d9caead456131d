// Entry point of the web console: mounts the app into the page `cordon serve` serves at /ui.
import { render } from 'preact';
import { App } from './app.js';
import './styles.css';

render(<App />, document.getElementById('app')!);
